"""Spatial QA synthesis: 38 question types, template banks, human-aligned rounding and parsing.

Public API::

    from spatialvlm_core.questions import generate_qa, QAConfig, REGISTRY, format_length, parse_answer

The type table is in ``question_types``; templates are module data in ``templates`` (no package-data files).
"""

from __future__ import annotations

from spatialvlm_core.questions.generator import QAConfig, eligible_types, generate_qa, referable
from spatialvlm_core.questions.noise import perturb_scene
from spatialvlm_core.questions.quantities import format_length, parse_answer
from spatialvlm_core.questions.registry import REGISTRY, QuestionType, get_type, register

__all__ = [
    "REGISTRY",
    "QAConfig",
    "QuestionType",
    "eligible_types",
    "format_length",
    "generate_qa",
    "get_type",
    "parse_answer",
    "perturb_scene",
    "referable",
    "register",
]
