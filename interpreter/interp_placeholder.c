/* interp_placeholder.c - keeps the interpreter library non-empty until the step function lands. */
int baton_interpreter_placeholder_(void);
int baton_interpreter_placeholder_(void) {
    return 0;
}
