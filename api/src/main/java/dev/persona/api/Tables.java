package dev.persona.api;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/** CSV files for spreadsheets (RFC 4180 quoting: commas, quotes and newlines in cells survive). */
final class Tables {
    private Tables() { }

    static void csv(Path file, List<String> header, List<List<Object>> rows) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8);
             CSVPrinter csv = new CSVPrinter(w, CSVFormat.RFC4180.builder().setRecordSeparator("\n").setHeader(header.toArray(String[]::new)).get())) {
            for (List<Object> r : rows) csv.printRecord(r);
        }
    }
}
