package dev.persona.model.io;

import dev.persona.model.PersonaException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/** Element types a safetensors file may hold, with their size in bytes and conversion to float32. */
public enum DType {
    F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Whether this is a floating-point type (F32, F16, BF16, F64). */
    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** Parses a safetensors dtype name; {@code file} is only used in the error message. */
    public static DType parse(String name, Path file, String tensor) {
        try {
            return DType.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new PersonaException(
                    file + ": tensor '" + tensor + "' has unknown dtype '" + name + "'",
                    "Persona reads F32, F16, BF16, F64 and integer tensors; convert the checkpoint with safetensors.");
        }
    }

    /**
     * Converts {@code count} little-endian elements of this type from {@code src} (at its position)
     * into {@code dst} starting at {@code dstOffset}.
     */
    public void toFloat(ByteBuffer src, float[] dst, int dstOffset, int count) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        switch (this) {
            case F32 -> b.asFloatBuffer().get(dst, dstOffset, count);
            case F16 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = halfToFloat(b.getShort());
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
            }
            case F64 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = (float) b.getDouble();
            }
            case I64 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = b.getLong();
            }
            case I32 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = b.getInt();
            }
            case I16 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = b.getShort();
            }
            case I8 -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = b.get();
            }
            case U8, BOOL -> {
                for (int i = 0; i < count; i++) dst[dstOffset + i] = b.get() & 0xff;
            }
        }
    }

    /** IEEE 754 binary16 to float32, exact (Float.float16ToFloat needs Java 20). */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            // subnormal half: value = mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** float32 to IEEE 754 binary16 with round-to-nearest-even. */
    static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xff) - 127 + 15;
        int mant = bits & 0x7fffff;
        if (((bits >>> 23) & 0xff) == 0xff) return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        if (exp >= 0x1f) return (short) (sign | 0x7c00);
        if (exp <= 0) {
            if (exp < -10) return (short) sign;
            mant |= 0x800000;
            int shift = 14 - exp;
            int half = mant >>> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) == 1)) half++;
            return (short) (sign | half);
        }
        int half = (exp << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1)) half++;
        return (short) (sign | half);
    }
}
