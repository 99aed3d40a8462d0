/* init.c -- the routines R may call, registered by name.
 *
 * Registration (R_registerRoutines) gives .Call the symbols with their
 * argument counts checked; R_useDynamicSymbols(FALSE) and
 * R_forceSymbols(TRUE) make the registered table the only way in, so no
 * other symbol of this library or of libherd can be reached by a string.
 */
#include <R_ext/Rdynload.h>

#include "glue.h"

/* Through void (*)(void), the generic function pointer type, so that the
 * conversion to DL_FUNC is not a cast between incompatible types. */
#define ROUTINE(name, n) {#name, (DL_FUNC)(void (*)(void))&name, n}

static const R_CallMethodDef routines[] = {
    ROUTINE(herd_r_version, 0),
    ROUTINE(herd_r_options_table, 1),
    ROUTINE(herd_r_fit, 6),
    ROUTINE(herd_r_fit_predict, 6),
    ROUTINE(herd_r_fit_close, 1),
    ROUTINE(herd_r_registry_open, 3),
    ROUTINE(herd_r_registry_close, 1),
    ROUTINE(herd_r_registry_table, 6),
    ROUTINE(herd_r_registry_search, 3),
    ROUTINE(herd_r_registry_check, 3),
    ROUTINE(herd_r_registry_rollback, 6),
    ROUTINE(herd_r_cycle, 8),
    ROUTINE(herd_r_registry_predict, 7),
    ROUTINE(herd_r_frame_borrows, 2),
    ROUTINE(herd_r_handle_alive, 1),
    {NULL, NULL, 0}};

void R_init_herd(DllInfo *dll);

void R_init_herd(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, routines, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
