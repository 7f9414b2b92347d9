package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Batches chosen from memory: capped by the command, shrinking with memory and length, never below 1. */
class BatchSizeTest {
    private static final ModelConfig QWEN = ModelShapes.config("qwen2.5-0.5b");
    private static final long GB = 1L << 30;

    @Test
    void plentyOfMemoryGivesTheCommandsCap() {
        BatchSize b = BatchSize.fromMemory(QWEN, BatchSize.Work.GENERATION, 128, 64, 16 * GB);
        assertEquals(64, b.rows());
        assertEquals("memory", b.source());
        assertEquals(8 * GB, b.budgetBytes(), "half of what is available");
    }

    @Test
    void lessMemoryOrLongerRowsGiveSmallerBatchesThatFitTheBudget() {
        int previous = Integer.MAX_VALUE;
        for (long gb : new long[] {16, 8, 4}) {
            BatchSize b = BatchSize.fromMemory(QWEN, BatchSize.Work.CAPTURE, 2048, 1_000_000, gb * GB);
            assertTrue(b.rows() < previous, gb + " GB: " + b.describe());
            assertTrue((long) b.rows() * b.bytesPerRow() <= b.budgetBytes(), b.describe());
            assertTrue((long) (b.rows() + 1) * b.bytesPerRow() > b.budgetBytes(), "the largest batch that fits: " + b.describe());
            previous = b.rows();
        }
        long shortRow = BatchSize.bytesPerRow(QWEN, BatchSize.Work.GENERATION, 256);
        long longRow = BatchSize.bytesPerRow(QWEN, BatchSize.Work.GENERATION, 4096);
        // attention scores grow with the square of the length, the cache linearly
        assertTrue(longRow > 16 * shortRow, shortRow + " -> " + longRow);
    }

    @Test
    void neverBelowOneRow() {
        BatchSize b = BatchSize.fromMemory(QWEN, BatchSize.Work.CAPTURE, 32768, 64, 1L << 20);
        assertEquals(1, b.rows());
    }

    @Test
    void generationEstimateCoversTheKeyValueCacheAndLogits() {
        // what KVCache allocates for one row of 1000 slots (float32 keys and values per layer) plus the logits row
        int slots = 1000;
        long cache = 2L * QWEN.numLayers() * QWEN.numKvHeads() * slots * QWEN.headDim() * Float.BYTES;
        long logits = (long) QWEN.vocabSize() * Float.BYTES;
        assertTrue(BatchSize.bytesPerRow(QWEN, BatchSize.Work.GENERATION, slots) > cache + logits);
        // a capture keeps every hidden-state row, which a last-logits pass does not
        long rows = (long) (QWEN.numLayers() + 1) * slots * QWEN.dModel() * Float.BYTES;
        assertTrue(BatchSize.bytesPerRow(QWEN, BatchSize.Work.CAPTURE, slots)
                >= BatchSize.bytesPerRow(QWEN, BatchSize.Work.LAST_LOGITS, slots) + rows);
    }

    @Test
    void givenBatchIsKeptAndZeroIsRefusedNamingTheOption() {
        assertEquals(3, BatchSize.resolve(3, QWEN, BatchSize.Work.GENERATION, 100, 64).rows());
        assertEquals("3 rows (--batch)", BatchSize.given(3).describe());
        PersonaException e = assertThrows(PersonaException.class, () -> BatchSize.given(0));
        assertTrue(e.getMessage().contains("--batch 0"), e.getMessage());
    }

    @Test
    void availableMemoryIsReadFromTheMachine() {
        long available = BatchSize.availableBytes();
        long total = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        assertTrue(available > 0 && available <= total, "available " + available + " of " + total);
        BatchSize b = BatchSize.resolve(null, QWEN, BatchSize.Work.GENERATION, 100, 64);
        assertEquals(available / 2, b.budgetBytes(), 512L << 20, "the budget is half of MemAvailable (which moves a little between reads)");
    }
}
