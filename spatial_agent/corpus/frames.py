"""Question frames (templates) per family, split into train and held-out frames written before any training.

Slots: ``{a}`` ``{b}`` ``{c}`` object mentions, ``{L}`` / ``{L2}`` stated lengths, ``{k}`` a ratio ("twice"),
``{n}`` a number, ``{P}`` a plural class ("chairs"). Each frame carries what the plan needs: the measured kinds,
the comparison, a relation, or for a refusal what the question leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Frame:
    text: str
    op: str = ""  # comparison of the decision (">", ">=", "<", "<=") or "" (a value / relation / refusal)
    kinds: tuple[str, ...] = ()  # measured kinds in slot order, e.g. ("height", "width") for "{a} higher than {b} is wide"
    relation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    name: str
    train: tuple[Frame, ...]
    heldout: tuple[Frame, ...]

    def frames(self, split: str) -> tuple[Frame, ...]:
        return self.heldout if split == "heldout" else self.train


F = Frame
H, W, D = "height", "width", "depth"

FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("fit_between", train=(
        F("Can a {L} wide robot fit between {a} and {b}?", ">="),
        F("Is there room for a {L} wide cart between {a} and {b}?", ">="),
        F("Could a wheelchair that is {L} across get between {a} and {b}?", ">="),
        F("Will a {L}-wide vacuum squeeze through the gap between {a} and {b}?", ">="),
        F("{A} and {b}: is there room for a {L} wide robot between them?", ">="),
        F("I want to roll a {L} wide trolley between {a} and {b}. Will it fit?", ">="),
        F("Does a {L} wide robot fit in the space between {a} and {b}?", ">="),
        F("Is the opening between {a} and {b} big enough for a {L} wide cart?", ">="),
    ), heldout=(
        F("Would a robot {L} in width be able to pass between {a} and {b}?", ">="),
        F("Between {a} and {b}, is there enough space for something {L} wide?", ">="),
        F("Can I get a {L} wide stroller through between {a} and {b}?", ">="),
        F("{A} and {b} - could a {L} wide robot drive between the two?", ">="),
    )),
    Family("clearance", train=(
        F("Is the gap between {a} and {b} more than {L}?", ">"),
        F("Is there at least {L} of free space between {a} and {b}?", ">="),
        F("Is the space separating {a} from {b} under {L}?", "<"),
        F("Is the clearance between {a} and {b} less than {L}?", "<"),
        F("Does the gap between {a} and {b} exceed {L}?", ">"),
        F("Is the free space between {a} and {b} wider than {L}?", ">"),
    ), heldout=(
        F("Is the free floor between {a} and {b} narrower than {L}?", "<"),
        F("Would you say the gap from {a} to {b} is wider than {L}?", ">"),
        F("Is the space left between {a} and {b} at least {L}?", ">="),
    )),
    Family("reach", train=(
        F("Can an arm of {L} reach {a} from {b}?", "<="),
        F("Is {a} within {L} of {b}?", "<="),
        F("Standing at {b}, could a robot with a {L} reach touch {a}?", "<="),
        F("Could a gripper with {L} of reach grab {a} from {b}?", "<="),
        F("If a robot parks next to {b}, can its {L} arm reach {a}?", "<="),
    ), heldout=(
        F("From where {b} is, is {a} within a {L} reach?", "<="),
        F("Would a {L} long arm at {b} get to {a}?", "<="),
        F("Is {a} close enough to {b} for a {L} arm to reach it?", "<="),
    )),
    Family("apart", train=(
        F("Are {a} and {b} more than {L} apart?", ">"),
        F("Are {a} and {b} less than {L} from each other?", "<"),
        F("Is {a} at least {L} away from {b}?", ">="),
    ), heldout=(
        F("Do {a} and {b} stand over {L} apart?", ">"),
        F("Is {a} no more than {L} from {b}?", "<="),
    )),
    Family("through", train=(
        F("Can a {L} wide cart go through {a}?", ">="),
        F("Will a {L} wide sofa fit through {a}?", ">="),
        F("Is {a} wide enough for a {L} wide wheelchair?", ">="),
        F("Is {a} wide enough to carry a {L} wide table through?", ">="),
        F("Could we move a {L} wide cabinet through {a}?", ">="),
    ), heldout=(
        F("Would a {L} wide crate pass through {a}?", ">="),
        F("Is {a} wide enough that a {L} wide robot gets through?", ">="),
        F("Can something {L} across be carried through {a}?", ">="),
    )),
    Family("fit_on", train=(
        F("Is {a} wide enough for a {L} long board?", ">="),
        F("Will a {L} wide tray fit on top of {a}?", ">="),
        F("Is {a} long enough to hold a {L} long box?", ">="),
        F("Can a {L} long mirror lie flat on {a}?", ">="),
    ), heldout=(
        F("Would a {L} wide printer fit on {a}?", ">="),
        F("Is there space on {a} for a {L} long plank?", ">="),
    )),
    Family("fit_under", train=(
        F("Can a box of {L} fit under {a}?"),
        F("Will a {L} tall box fit beneath {a}?"),
    ), heldout=(
        F("Could a {L} high robot slide underneath {a}?"),
    )),
    Family("size", train=(
        F("Is {a} taller than {L}?", ">", (H,)),
        F("Is {a} shorter than {L}?", "<", (H,)),
        F("Is {a} more than {L} tall?", ">", (H,)),
        F("Is {a} less than {L} high?", "<", (H,)),
        F("Does {a} exceed {L} in height?", ">", (H,)),
        F("Is {a} wider than {L}?", ">", (W,)),
        F("Is {a} under {L} wide?", "<", (W,)),
        F("Is the width of {a} at least {L}?", ">=", (W,)),
        F("Is {a} deeper than {L}?", ">", (D,)),
    ), heldout=(
        F("Does {a} stand over {L} tall?", ">", (H,)),
        F("Is {a} narrower than {L}?", "<", (W,)),
        F("Would you say {a} is at most {L} in width?", "<=", (W,)),
        F("Is the height of {a} below {L}?", "<", (H,)),
    )),
    Family("headroom", train=(
        F("Will {a} fit under a {L} ceiling?", "<="),
        F("Can {a} go under a {L} high doorway without tilting?", "<="),
        F("Is {a} low enough to slide under a shelf {L} off the floor?", "<="),
        F("Would {a} hit a {L} high ceiling beam?", ">"),
    ), heldout=(
        F("Does {a} clear a {L} overhead beam?", "<="),
        F("Is {a} too tall for a room with a {L} ceiling?", ">"),
    )),
    Family("compare", train=(
        F("Is {a} taller than {b}?", ">", (H, H)),
        F("Is {a} wider than {b}?", ">", (W, W)),
        F("Is {a} shorter than {b}?", "<", (H, H)),
        F("Is {a} narrower than {b}?", "<", (W, W)),
        F("Is {a} higher than {b} is wide?", ">", (H, W)),
        F("Is {a} wider than {b} is tall?", ">", (W, H)),
        F("Does {a} stand taller than {b}?", ">", (H, H)),
    ), heldout=(
        F("Is {a} less tall than {b}?", "<", (H, H)),
        F("Is {a} taller than {b} is long?", ">", (H, W)),
        F("Is the width of {a} greater than the height of {b}?", ">", (W, H)),
        F("Compared with {b}, is {a} wider?", ">", (W, W)),
    )),
    Family("ratio", train=(
        F("Is {a} more than {k} as wide as {b}?", ">", (W, W)),
        F("Is {a} at least {k} as tall as {b}?", ">=", (H, H)),
        F("Is {a} less than {k} as tall as {b}?", "<", (H, H)),
        F("Is {a} over {k} the width of {b}?", ">", (W, W)),
    ), heldout=(
        F("Is the width of {a} more than {k} that of {b}?", ">", (W, W)),
        F("Is {a} under {k} as high as {b}?", "<", (H, H)),
    )),
    Family("camera", train=(
        F("Is {a} closer to the camera than {b}?", relation="in_front_of"),
        F("Is {a} farther from the camera than {b}?", relation="behind"),
        F("Is {a} nearer to the viewer than {b}?", relation="in_front_of"),
        F("Is {a} further away from the camera than {b}?", relation="behind"),
    ), heldout=(
        F("Does {a} sit closer to where the photo was taken than {b}?", relation="in_front_of"),
        F("Is {a} more distant from the camera than {b}?", relation="behind"),
    )),
    Family("which", train=(
        F("Which is closer to the camera, {a} or {b}?", relation="in_front_of"),
        F("Which is taller, {a} or {b}?", ">", (H, H)),
        F("Which is wider: {a} or {b}?", ">", (W, W)),
        F("Of {a} and {b}, which one is farther from the camera?", relation="behind"),
        F("Which is shorter, {a} or {b}?", "<", (H, H)),
    ), heldout=(
        F("Which of {a} and {b} is nearer to the camera?", relation="in_front_of"),
        F("Between {a} and {b}, which is narrower?", "<", (W, W)),
        F("{A} or {b}: which stands taller?", ">", (H, H)),
    )),
    Family("count", train=(
        F("How many {P} are there?"),
        F("How many {P} can you see?"),
        F("Count the {P}."),
        F("Are there more than {n} {P}?", ">"),
        F("Are there at least {n} {P}?", ">="),
        F("Are there fewer than {n} {P}?", "<"),
    ), heldout=(
        F("What is the number of {P} in the room?"),
        F("Do I see more than {n} {P} here?", ">"),
        F("Is the number of {P} at least {n}?", ">="),
    )),
    Family("two_conditions", train=(
        F("Is {a} wider than {L} and shorter than {L2}?", "and", (W, H), extra={"ops": (">", "<")}),
        F("Is {a} taller than {L} or wider than {L2}?", "or", (H, W), extra={"ops": (">", ">")}),
        F("Is {a} more than {L} wide and less than {L2} tall?", "and", (W, H), extra={"ops": (">", "<")}),
        F("Can a {L} wide robot fit between {a} and {b}, and is {c} taller than {L2}?", "and", ("gap", H),
          extra={"ops": (">=", ">")}),
    ), heldout=(
        F("Is {a} both narrower than {L} and taller than {L2}?", "and", (W, H), extra={"ops": ("<", ">")}),
        F("Is {a} either taller than {L} or deeper than {L2}?", "or", (H, D), extra={"ops": (">", ">")}),
        F("Is {c} shorter than {L2}, and is there room for a {L} wide cart between {a} and {b}?", "and",
          ("gap", H), extra={"ops": (">=", "<")}),
    )),
    Family("negation", train=(
        F("Is {a} not taller than {L}?", "<=", (H,)),
        F("Is it false that {a} is wider than {L}?", "<=", (W,)),
        F("Would a {L} wide cart not fit through {a}?", "<", (W,), extra={"door": True}),
        F("Is the gap between {a} and {b} not wide enough for a {L} wide robot?", "<", ("gap",)),
    ), heldout=(
        F("Is it not the case that {a} is more than {L} tall?", "<=", (H,)),
        F("Is there not enough room between {a} and {b} for a {L} wide robot?", "<", ("gap",)),
    )),
    Family("measure", train=(
        F("How wide is {a}?", kinds=(W,)),
        F("How tall is {a}?", kinds=(H,)),
        F("What is the height of {a}?", kinds=(H,)),
        F("What is the gap between {a} and {b}?", kinds=("gap",)),
        F("How much free space is there between {a} and {b}?", kinds=("gap",)),
    ), heldout=(
        F("What's the width of {a}?", kinds=(W,)),
        F("How high does {a} stand?", kinds=(H,)),
        F("How big is the gap separating {a} from {b}?", kinds=("gap",)),
    )),
    Family("relation", train=(
        F("Is {a} left of {b}?", relation="left_of"),
        F("Is {a} to the right of {b}?", relation="right_of"),
        F("Is {a} in front of {b}?", relation="in_front_of"),
        F("Is {a} behind {b}?", relation="behind"),
    ), heldout=(
        F("Does {a} stand to the left of {b}?", relation="left_of"),
        F("Is {a} on the right side of {b}?", relation="right_of"),
    )),
    Family("unanswerable", train=(
        F("Is {a} heavier than {b}?", extra={"missing": "weight: I measure sizes and distances, not weight"}),
        F("What colour is {a}?", extra={"missing": "colour: I measure sizes and distances, not colours"}),
        F("Can a robot fit between {a} and {b}?", extra={"missing": "how wide the robot is"}),
        F("Can an arm reach {a} from {b}?", extra={"missing": "how long the arm is"}),
        F("How old is {a}?", extra={"missing": "age: I measure sizes and distances"}),
        F("How much does {a} cost?", extra={"missing": "price: I measure sizes and distances"}),
    ), heldout=(
        F("Is {a} made of wood?", extra={"missing": "material: I measure sizes and distances"}),
        F("Will a wheelchair fit through {a}?", extra={"missing": "how wide the wheelchair is", "role": "door"}),
        F("How heavy is {a}?", extra={"missing": "weight: I measure sizes and distances, not weight"}),
    )),
]}

# Words for a ratio and the factor they mean.
RATIOS: dict[str, float] = {"twice": 2.0, "three times": 3.0, "half": 0.5, "one and a half times": 1.5}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}

# Ways an object is described beyond its name (the plan names the object, not the description).
DECORATIONS = {
    "train": (", the one by the window,", " that we just bought", " which stands in the corner", " against the wall",
              " near the window", " I told you about", ", the big one,", " in the corner"),
    "heldout": (", the one next to the plant,", " that my aunt gave us", " over by the radiator",
                " which came with the flat", ", the old one,"),
}
PREFIXES = {
    "train": ("", "", "", "", "Quick question: ", "Looking at this photo, ", "We're rearranging the room. ",
              "Hey, ", "Just checking: "),
    "heldout": ("", "", "", "Sorry to bother you, but ", "My landlord asked me this: ", "Before the movers arrive, "),
}
SUFFIXES = {
    "train": ("", "", "", "", " I need to know before the delivery.", " Thanks!"),
    "heldout": ("", "", "", " It matters for the move.", " A rough answer is fine."),
}
