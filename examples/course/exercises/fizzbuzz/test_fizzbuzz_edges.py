from fizzbuzz import fizzbuzz


def test_zero_is_fizzbuzz():
    assert fizzbuzz(0) == "FizzBuzz"


def test_negative():
    assert fizzbuzz(-3) == "Fizz"
