/*
 * bcryptprimitives.dll with only ProcessPrng, for running Rust programs under Wine 8.
 *
 * Rust's std (1.78+) gets its randomness (HashMap seeds, tempfile names, uuids) from
 * ProcessPrng in bcryptprimitives.dll. Debian 12's Wine 8.0 does not export it, so every Rust
 * test binary fails to start there. This shim forwards it to advapi32's RtlGenRandom
 * (SystemFunction036), which Wine has. It is for the CI's Wine run only: real Windows has
 * ProcessPrng, and the shim is never shipped with mlscope.exe.
 *
 * Build (what .ci/windows.sh runs):
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *       .ci/wine/processprng.c .ci/wine/processprng.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* RtlGenRandom takes a ULONG length: fill larger requests in chunks. */
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
