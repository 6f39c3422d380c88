// Red-team program for the compile step: a 600 MB initialised array makes a 600 MB object file and binary,
// written to wherever the compiler's output goes.
static char big[600 << 20] = {1};
int main() { return big[12345]; }
