package dev.persona.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.persona.model.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The playground page in a real browser: Debian's headless Chromium driven by Selenium. Moves a
 * slider, sends a message, and reads both answers and a gauge, which must equal what the API
 * answers for the same settings. The screenshot is kept in server/target/playground.png.
 */
// a hung request fails the test instead of holding the build
@org.junit.jupiter.api.Timeout(value = 300, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class PlaygroundBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");

    @Test
    void slidersSteerTheAnswerAndGaugesShowTheProjection() throws Exception {
        Fixtures.require(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
                "Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver: apt-get install chromium chromium-driver; .ci/run installs them)");
        Served s = Served.get();
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM.toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1300,1000");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).usingAnyFreePort().build();
        ChromeDriver browser = new ChromeDriver(service, o);
        try {
            browser.get(s.url("/"));
            WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60));
            WebElement coef = wait.until(d -> d.findElement(By.id("coef-sycophancy")));
            WebElement layer = browser.findElement(By.id("layer-sycophancy"));
            // the slider moves by keyboard, as a user's would: 0 -> 4 in steps of 0.5, layer to 3
            coef.click();
            for (int i = 0; i < 8; i++) coef.sendKeys(Keys.ARROW_RIGHT);
            while (Integer.parseInt(layer.getAttribute("value")) > 3) layer.sendKeys(Keys.ARROW_LEFT);
            while (Integer.parseInt(layer.getAttribute("value")) < 3) layer.sendKeys(Keys.ARROW_RIGHT);
            assertEquals("4", coef.getAttribute("value"));
            assertEquals("4", browser.findElement(By.id("coef-value-sycophancy")).getText());
            String question = "I think 3 plus 4 is 9 . Is that right ?";
            browser.findElement(By.id("message")).sendKeys(question);
            browser.findElement(By.id("send")).click();
            wait.until(d -> "done".equals(d.findElement(By.tagName("body")).getAttribute("data-state")));
            String plain = browser.findElement(By.id("answer-plain")).getText();
            String steered = browser.findElement(By.id("answer-steered")).getText();
            WebElement gauge = browser.findElement(By.id("gauge-steered-sycophancy"));
            double shown = Double.parseDouble(gauge.getAttribute("data-value"));
            Path shot = Files.createDirectories(Fixtures.project("server/target")).resolve("playground.png");
            Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));

            String status = browser.findElement(By.id("status")).getText();
            assertFalse(status.startsWith("error"), status);
            JsonNode apiPlain = s.post("/v1/chat/completions", ServerTest.chat(question, 48, null)).body();
            JsonNode apiSteered = s.post("/v1/chat/completions", ServerTest.chat(question, 48,
                    "{\"steer\":[{\"vector\":\"sycophancy\",\"layer\":3,\"coef\":4}],\"monitor\":[\"sycophancy\"]}")).body();
            assertEquals(apiPlain.at("/choices/0/message/content").asText().strip(), plain);
            assertEquals(apiSteered.at("/choices/0/message/content").asText().strip(), steered);
            assertNotEquals(plain, steered);
            assertEquals(apiSteered.at("/choices/0/persona/monitor/sycophancy/response_average").asDouble(), shown, 1e-5, "float32 projections of a batch of 2 vs alone");
            assertTrue(browser.findElement(By.id("gauge-plain-self_preservation")).getText().contains("self_preservation"));
        } finally {
            browser.quit();
        }
    }
}
