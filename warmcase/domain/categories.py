"""The hardship categories that make a household a target of a campaign.

Codes are stored in events and never change; labels are what the plans call them.
A household can hold several; the duplicate-aid rule pays it once, at the
highest tier any of them gives.
"""

from __future__ import annotations

from collections.abc import Iterable

from warmcase.errors import InvalidCommand

CATEGORIES: dict[str, str] = {
    "minimum_allowance": "低保 minimum living allowance",
    "marginal": "低保边缘 marginal / near-allowance",
    "extreme_poverty": "特困供养 extreme-poverty supported person",
    "child_in_difficulty": "孤困儿童 orphan or child in difficulty",
    "disabled": "困难残疾人 disabled person in difficulty",
    "elderly_alone": "空巢独居失能老人 empty-nest, living-alone or disabled elderly",
    "left_behind": "三留守 left-behind child, woman or elderly",
    "serious_illness": "大重病 serious illness",
    "landless_farmer": "失地农民 landless farmer",
    "low_income": "低收入家庭 low-income family",
    "entitled_group": "优抚对象 entitled group",
    "war_nuclear_veteran": "参战涉核人员 war or nuclear-test veteran",
    "poor_employee": "困难职工 poor employee",
    "unemployed": "登记失业特困 registered unemployed in extreme poverty",
    "disaster_victim": "意外灾害 accident or disaster victim",
    "ethnic_taiwan": "少数民族及台胞困难家庭 ethnic-minority or Taiwan-compatriot family",
    "poor_student": "贫困学生 poor student's family",
    "womens_federation": "妇联帮扶对象 women's-federation target",
    "streamlined_worker": "六十年代精简职工 streamlined 1960s worker",
    "massacre_survivor": "幸存者 massacre survivor",
}


def checked_categories(values: Iterable[object], *, allow_empty: bool = False) -> frozenset[str]:
    """The given category codes, refused if any is unknown (or none given, unless allowed)."""
    codes = frozenset(values)
    unknown = sorted(str(code) for code in codes if code not in CATEGORIES)
    if unknown:
        msg = (
            f"unknown hardship categories {unknown}; accepted codes: "
            f"{', '.join(sorted(CATEGORIES))}"
        )
        raise InvalidCommand(msg)
    if not codes and not allow_empty:
        msg = "at least one hardship category is required: a household is a target because of one"
        raise InvalidCommand(msg)
    return frozenset(str(code) for code in codes)
