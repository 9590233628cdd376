from fizzbuzz import fizzbuzz


def test_plain_number():
    assert fizzbuzz(1) == "1"
    assert fizzbuzz(7) == "7"


def test_three():
    assert fizzbuzz(9) == "Fizz"


def test_five():
    assert fizzbuzz(10) == "Buzz"


def test_fifteen():
    assert fizzbuzz(45) == "FizzBuzz", "multiples of 15 are FizzBuzz"
