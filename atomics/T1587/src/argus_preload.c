/*
 * argus_preload: the stand-in for a shared-library implant in the library
 * atomics (ATT&CK T1574.006, LD_PRELOAD injection; a native module loaded
 * with dlopen). It does nothing but be loaded: its constructor runs in the
 * host process, which then makes the connection, so the connection is the
 * host's (a packaged curl, a packaged Python) and only the library is
 * custom code.
 *
 * Build with -DTAG=name to give each copy its own sha256.
 */
#ifndef TAG
#define TAG argus
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

const char argus_preload_tag[] = "argus_preload:" STR(TAG);

__attribute__((constructor)) static void argus_preload_init(void)
{
}
