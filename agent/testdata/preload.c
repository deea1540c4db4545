/* A shared library that does nothing but exist: the stand-in for an
 * LD_PRELOAD implant (ATT&CK T1574.006). SALT makes each build's sha256
 * its own. */
#ifndef SALT
#define SALT "argus"
#endif
const char argus_test_salt[] = SALT;

__attribute__((constructor)) static void argus_test_preloaded(void)
{
}
