// Red-team program for the compile step: the preprocessor reads /dev/zero, which never ends.
#include "/dev/zero"
int main() { return 0; }
