"""Exercise checkers: a right answer passes, a wrong one fails with a useful message."""

import pytest

from hwnas_lab import checks


# ----- notebook 00 -----------------------------------------------------------------------
def count_subnets(space):
    per_block = len(space.ks_choices) * len(space.e_choices)
    return sum(per_block ** d for d in space.d_choices) ** space.n_stages * len(space.r_choices)


def count_encodings(space):
    return ((len(space.ks_choices) * len(space.e_choices)) ** space.n_slots
            * len(space.d_choices) ** space.n_stages * len(space.r_choices))


def mbconv_flops(cin, cout, ks, e, stride, in_size):
    hidden, out = cin * e, (in_size - 1) // stride + 1
    return 2 * (in_size ** 2 * cin * hidden + out ** 2 * hidden * ks ** 2 + out ** 2 * hidden * cout)


def todo(*args):
    raise NotImplementedError()


def test_count_subnets_checker(capsys):
    checks.check_count_subnets(count_subnets)
    assert "PASS  count_subnets" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="number of encodings"):
        checks.check_count_subnets(count_encodings)
    # right on the presets only (a range of depths instead of the choices) is caught
    wrong_depths = lambda s: (sum((len(s.ks_choices) * len(s.e_choices)) ** d  # noqa: E731
                                  for d in range(min(s.d_choices), max(s.d_choices) + 1))
                              ** s.n_stages * len(s.r_choices))
    with pytest.raises(AssertionError, match="space 'gappy'"):
        checks.check_count_subnets(wrong_depths)
    with pytest.raises(NotImplementedError):
        checks.check_count_subnets(todo)
    assert "TODO  count_subnets" in capsys.readouterr().out


def test_mbconv_flops_checker(capsys):
    checks.check_mbconv_flops(mbconv_flops)
    assert "PASS  mbconv_flops" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="2 per multiply-add"):
        checks.check_mbconv_flops(lambda *a: mbconv_flops(*a) // 2)
    floor_size = lambda cin, cout, ks, e, s, n: mbconv_flops(cin, cout, ks, e, 1, n // s) \
        + 2 * (n * n - (n // s) ** 2) * cin * cin * e  # noqa: E731 - floor(n / s) outputs
    with pytest.raises(AssertionError, match="in_size=7"):
        checks.check_mbconv_flops(floor_size)
    with pytest.raises(AssertionError, match="should be a number"):
        checks.check_mbconv_flops(lambda *a: "many")
    with pytest.raises(NotImplementedError):
        checks.check_mbconv_flops(todo)
