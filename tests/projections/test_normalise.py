"""Folding names and addresses so that one household written two ways compares equal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warmcase.projections.normalise import NAME_DOT, _fold_once, fold, same_text, to_simplified

TRADITIONAL_SIMPLIFIED = [
    ("陳國華", "陈国华"),
    ("張麗華", "张丽华"),
    ("王秀蘭", "王秀兰"),
    ("劉偉", "刘伟"),
    ("鄭", "郑"),
    ("葉", "叶"),
    ("鍾", "钟"),
    ("鼓樓區", "鼓楼区"),
    ("東街口街道", "东街口街道"),
    ("溫泉社區", "温泉社区"),
    ("紅橋路12號3單元401", "红桥路12号3单元401"),
    ("臺江區", "台江区"),
    ("瀋陽", "沈阳"),
    ("衞生巷", "卫生巷"),
    ("峯景苑", "峰景苑"),
]
"""Traditional writing and variant forms (衞, 峯) of names and places, and the simplified."""


@pytest.mark.parametrize(("traditional", "simplified"), TRADITIONAL_SIMPLIFIED)
def test_traditional_and_variant_forms_fold_to_the_simplified(
    traditional: str, simplified: str
) -> None:
    """A name or address written in traditional characters folds to its simplified form."""
    assert fold(traditional) == fold(simplified) == simplified


def test_full_width_digits_and_letters_fold_to_ascii() -> None:
    """３号楼 and 3号楼 are one building; Ａ座 and a座 one block (case is folded too)."""
    assert fold("３号楼Ａ座") == fold("3号楼a座") == "3号楼a座"


@pytest.mark.parametrize(
    "spaced", ["陈 国华", " 陈国华 ", "陈\u3000国华", "陈\t国\n华", "陈\xa0国华"]
)
def test_every_kind_of_whitespace_is_removed(spaced: str) -> None:
    """Spaces, the ideographic space, tabs, newlines and no-break spaces all vanish."""
    assert fold(spaced) == "陈国华"


@pytest.mark.parametrize("dot", ["·", "•", "‧", "・", "･", "．", ".", "∙", "⋅"])
def test_every_name_dot_is_one_dot(dot: str) -> None:
    """An ethnic-minority name's parts may be joined by any of the dots in use."""
    assert fold(f"买买提{dot}艾力") == f"买买提{NAME_DOT}艾力"


def test_different_names_stay_different() -> None:
    """Folding merges writings of one name, never two names."""
    assert not same_text("陈国华", "陈国平")
    assert not same_text("红桥路12号", "红桥路21号")


def test_a_chain_of_variants_is_followed_to_its_end() -> None:
    """薴 becomes 苧, which becomes 苎: folding goes all the way at once."""
    assert to_simplified("薴") == to_simplified("苧") == "苎"


@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    """A folded text folds to itself, whatever it holds."""
    folded = fold(text)
    assert fold(folded) == folded


def _fold_by_passes(text: str) -> str:
    folded = _fold_once(text)
    for _ in range(4):
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded


@given(
    st.text()
    | st.text(alphabet=st.characters(codec="utf-8", categories=["Lo", "Mn", "Zs", "Nd", "Lu"]))
)
def test_the_fixed_point_shortcut_folds_as_repeated_passes_do(text: str) -> None:
    """Stopping after one pass when the result is already at its fixed point gives what
    folding pass after pass until nothing changes gives."""
    assert fold(text) == _fold_by_passes(text)


@pytest.mark.parametrize(
    "text", ["e\u0301", "\u1100\u1161", "\u0b47\u0b3e", "ǅ", "ﬃ", "Straße", "ΐ", "\u3000·"]
)
def test_texts_that_compose_or_case_fold_across_passes_fold_as_repeated_passes_do(
    text: str,
) -> None:
    """Combining marks, Hangul jamo, a vowel sign that composes with no combining class,
    title-case and ligature letters: the shortcut never stops before the fixed point."""
    assert fold(text) == _fold_by_passes(text)


@given(st.text())
def test_a_folded_text_has_no_whitespace(text: str) -> None:
    """No whitespace survives folding."""
    assert not any(char.isspace() for char in fold(text))


@given(
    st.lists(st.sampled_from(TRADITIONAL_SIMPLIFIED), min_size=1, max_size=5),
    st.lists(st.sampled_from(["", " ", "\u3000"]), min_size=5, max_size=5),
)
def test_mixed_writings_of_one_text_fold_alike(
    pairs: list[tuple[str, str]], gaps: list[str]
) -> None:
    """A text made of parts, each written traditional or simplified with any spacing,
    folds like its all-simplified, unspaced form."""
    mixed = "".join(
        gap + (traditional if index % 2 else simplified)
        for index, ((traditional, simplified), gap) in enumerate(zip(pairs, gaps, strict=False))
    )
    plain = "".join(simplified for _, simplified in pairs)
    assert fold(mixed) == fold(plain)
