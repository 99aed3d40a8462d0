/* version.c -- the version of the loaded library. */
#include "herd.h"

unsigned herd_version(void)
{
    return HERD_VERSION_NUMBER;
}

const char *herd_version_string(void)
{
    return HERD_VERSION_STRING;
}
