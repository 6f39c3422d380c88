// Red-team program for the compile step: 10^10 steps of constant evaluation, CPU-bound, little memory.
constexpr long spin() {
    long s = 0;
    for (long i = 0; i < 100000; ++i)
        for (long j = 0; j < 100000; ++j)
            s += i ^ j;
    return s;
}
constexpr long value = spin();
int main() { return static_cast<int>(value & 1); }
