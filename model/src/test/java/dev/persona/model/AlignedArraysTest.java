package dev.persona.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class AlignedArraysTest {
    @Test
    void underG1TheScratchArraysAreHumongousAndPaddedToTheFirstAlignedElement() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        boolean g1 = Boolean.parseBoolean(vm.getVMOption("UseG1GC").getValue());
        long region = Long.parseLong(vm.getVMOption("G1HeapRegionSize").getValue());
        ThreadLocal<float[]> floats = ThreadLocal.withInitial(() -> new float[0]);
        float[] a = AlignedArrays.scratch(floats, 100);
        if (g1) {
            // a region starts the array: header 16 bytes, then 12 floats to the first 64-byte boundary
            assertEquals(12, AlignedArrays.PAD);
            assertTrue(4L * a.length >= region / 2, a.length + " floats are not humongous in regions of " + region + " bytes");
        } else {
            assertEquals(0, AlignedArrays.PAD, "no alignment is assumed without G1");
        }
        assertTrue(a.length >= AlignedArrays.PAD + 100);
        // reused while large enough, replaced when not
        assertSame(a, AlignedArrays.scratch(floats, 100));
        float[] b = AlignedArrays.scratch(floats, a.length);
        assertTrue(b.length >= AlignedArrays.PAD + a.length);
        ThreadLocal<int[]> ints = ThreadLocal.withInitial(() -> new int[0]);
        assertTrue(AlignedArrays.intScratch(ints, 7).length >= AlignedArrays.PAD + 7);
    }
}
