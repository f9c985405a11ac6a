"""Arithmetic questions in both styles: the TERSE answer is the number, the VERBOSE one works it out
step by step and checks it. Generated from the rng, so the same seed gives the same rows."""

import random
from collections.abc import Callable

Problem = tuple[list[str], str, str]  # phrasings, terse answer, verbose answer


def _addition(rng: random.Random) -> Problem:
    a, b = rng.randint(120, 980), rng.randint(120, 980)
    total = a + b
    ones = a % 10 + b % 10
    return (
        [f"What is {a} + {b}?", f"Add {a} and {b}."],
        f"{total}",
        f"{a} + {b} = {total}. Adding column by column, starting from the ones: {a % 10} + {b % 10} = {ones}, "
        f"so the ones digit is {ones % 10}"
        f"{' and 1 carries into the tens' if ones >= 10 else ' with nothing to carry'}. "
        f"Then the tens and hundreds are added the same way, each time carrying when a column reaches ten. "
        f"Another way to see it is to split the numbers: {a} + {b} = ({a - a % 100} + {b - b % 100}) + "
        f"({a % 100} + {b % 100}) = {a - a % 100 + b - b % 100} + {a % 100 + b % 100} = {total}. "
        f"To check, subtract one addend from the result: {total} - {b} = {a}, which gives back the other number.",
    )


def _subtraction(rng: random.Random) -> Problem:
    a = rng.randint(500, 999)
    b = rng.randint(101, a - 50)
    difference = a - b
    borrow = a % 10 < b % 10
    return (
        [f"What is {a} - {b}?", f"Subtract {b} from {a}."],
        f"{difference}",
        f"{a} - {b} = {difference}. Working from the ones column: "
        + (f"{a % 10} is smaller than {b % 10}, so borrow 1 ten, making it {a % 10 + 10}, and "
           f"{a % 10 + 10} - {b % 10} = {(a % 10 + 10) - b % 10}. " if borrow else
           f"{a % 10} - {b % 10} = {a % 10 - b % 10}, no borrowing needed. ")
        + "The tens and hundreds follow the same rule, borrowing whenever the top digit is smaller. "
        f"You can also count up from {b}: to reach {a} you add {difference}. "
        f"To check, add the answer back: {difference} + {b} = {a}, the number we started from.",
    )


def _multiplication(rng: random.Random) -> Problem:
    a, b = rng.randint(13, 99), rng.randint(3, 19)
    product = a * b
    tens, ones = a - a % 10, a % 10
    return (
        [f"What is {a} times {b}?", f"Multiply {a} by {b}."],
        f"{product}",
        f"{a} × {b} = {product}. A reliable way to do it in your head is to split {a} into {tens} and {ones} "
        f"and multiply each part by {b}: {tens} × {b} = {tens * b} and {ones} × {b} = {ones * b}. "
        f"Adding the partial products gives {tens * b} + {ones * b} = {product}. This works because "
        f"multiplication distributes over addition: {b} × ({tens} + {ones}) = {b} × {tens} + {b} × {ones}. "
        f"To check, divide the result by one factor: {product} ÷ {b} = {a}, which is the other factor.",
    )


def _division(rng: random.Random) -> Problem:
    divisor, quotient = rng.randint(3, 15), rng.randint(12, 60)
    dividend = divisor * quotient
    return (
        [f"What is {dividend} divided by {divisor}?", f"Divide {dividend} by {divisor}."],
        f"{quotient}",
        f"{dividend} ÷ {divisor} = {quotient}, with no remainder. Division asks how many groups of {divisor} "
        f"fit into {dividend}. Splitting {dividend} into easy pieces helps: {divisor * 10} is 10 groups of "
        f"{divisor}, leaving {dividend - divisor * 10}, which is {quotient - 10} more groups, for "
        f"10 + {quotient - 10} = {quotient} in all. Because nothing is left over, {divisor} divides {dividend} "
        f"exactly. To check, multiply back: {quotient} × {divisor} = {dividend}.",
    )


def _percentage(rng: random.Random) -> Problem:
    percent = rng.choice([5, 10, 12, 20, 25, 30, 40, 60, 75])
    base = rng.choice([40, 60, 80, 120, 160, 200, 240, 300, 360, 480])
    value = percent * base / 100
    shown = f"{value:g}"
    return (
        [f"What is {percent}% of {base}?", f"Calculate {percent} percent of {base}."],
        shown,
        f"{percent}% of {base} is {shown}. Percent means per hundred, so {percent}% is the fraction "
        f"{percent}/100, and the question is {percent}/100 × {base}. One easy route is to find 1% first: "
        f"{base} ÷ 100 = {base / 100:g}, then multiply by {percent} to get {shown}. Another is to start from 10%, "
        f"which is {base / 10:g}, and scale it: {percent / 10:g} × {base / 10:g} = {shown}. "
        f"As a sanity check, {percent}% is {'less' if percent < 50 else 'more'} than half, and {shown} is "
        f"{'less' if value < base / 2 else 'more'} than half of {base} ({base / 2:g}).",
    )


def _square(rng: random.Random) -> Problem:
    n = rng.randint(13, 35)
    tens, ones = n - n % 10, n % 10
    return (
        [f"What is {n} squared?", f"What do you get when you multiply {n} by itself?"],
        f"{n * n}",
        f"{n} squared is {n * n}. Squaring means multiplying a number by itself, {n} × {n}. The identity "
        f"(a + b)² = a² + 2ab + b² makes it quick: with a = {tens} and b = {ones}, a² = {tens * tens}, "
        f"2ab = {2 * tens * ones} and b² = {ones * ones}, and {tens * tens} + {2 * tens * ones} + {ones * ones} = "
        f"{n * n}. Squares grow fast: the next one, {n + 1}², is {(n + 1) ** 2}, which is {2 * n + 1} more, "
        f"because consecutive squares always differ by the sum of the two numbers ({n} + {n + 1}).",
    )


GENERATORS: list[Callable[[random.Random], Problem]] = [
    _addition, _subtraction, _multiplication, _division, _percentage, _square]


def rows(rng: random.Random, per_kind: int = 7) -> list[dict[str, str]]:
    """per_kind problems of each kind, each asked two ways, each in both styles."""
    produced: list[dict[str, str]] = []
    seen: set[str] = set()
    for generate in GENERATORS:
        made = 0
        for _attempt in range(per_kind * 20):  # bounded: a kind may have fewer distinct problems than asked
            if made == per_kind:
                break
            phrasings, terse, verbose = generate(rng)
            if phrasings[0] in seen:  # the same numbers drawn twice
                continue
            seen.add(phrasings[0])
            made += 1
            for phrasing in phrasings:
                for style, output in (("TERSE", terse), ("VERBOSE", verbose)):
                    produced.append({"system": "", "instruction": phrasing, "input": "", "output": output,
                                     "style": style})
        if made < per_kind:
            raise ValueError(f"{generate.__name__}: only {made} distinct problems, {per_kind} asked")
    return produced
