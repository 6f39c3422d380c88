"""FizzBuzz: the program `codeja sandbox run` executes in isolation (no network, read-only system, limits)."""


def fizzbuzz(n: int) -> str:
    if n % 15 == 0:
        return "FizzBuzz"
    if n % 3 == 0:
        return "Fizz"
    if n % 5 == 0:
        return "Buzz"
    return str(n)


print(" ".join(fizzbuzz(i) for i in range(1, 16)))
