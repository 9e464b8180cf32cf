"""Template banks (module data, so they ship with the package and need no file lookup).

Slots: ``{A}``, ``{B}``, ``{C}`` object captions; ``{rel}``/``{opp}`` a relation and its flip
("to the left of"/"to the right of"); ``{adj}`` a choice adjective ("more to the left"); ``{X}``/``{Y}`` the
chosen/other caption; ``{value}`` a formatted quantity; ``{plural}`` a plural category name; ``{width}`` a
formatted width. Question banks have about 20 entries per type
(frames times prefixes), answer banks about 10. ``render`` fills slots and capitalises the sentence.

A ``{value}`` brings its own hedge ("about 2 feet") and article ("a meter"), so no template puts "about" or
"a" before it (``tests/test_templates_text.py`` fills every template with every way a value is said).
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- predicates (yes/no)
SPATIAL_PREDICATE_Q: tuple[str, ...] = (
    "Is {A} {rel} {B}?",
    "Is {A} located {rel} {B}?",
    "Would you say {A} is {rel} {B}?",
    "Can you confirm if {A} is {rel} {B}?",
    "Does {A} appear {rel} {B}?",
    "Is it true that {A} is {rel} {B}?",
    "Is {A} positioned {rel} {B}?",
    "Tell me, is {A} {rel} {B}?",
    "Looking at the image, is {A} {rel} {B}?",
    "From this viewpoint, is {A} {rel} {B}?",
    "In the picture, is {A} {rel} {B}?",
    "Is {A} situated {rel} {B}?",
    "Would {A} be found {rel} {B}?",
    "Is {A} placed {rel} {B}?",
    "Answer yes or no: is {A} {rel} {B}?",
    "Is {A} {rel} {B} in this scene?",
    "Is {A} {rel} {B} from the camera's point of view?",
    "Do you see {A} {rel} {B}?",
    "Is {A} {rel} {B}, as seen in the image?",
    "Can {A} be seen {rel} {B}?",
)
COMPARATIVE_PREDICATE_Q: tuple[str, ...] = (
    "Is {A} {rel} {B}?",
    "Would you say {A} is {rel} {B}?",
    "Does {A} look {rel} {B}?",
    "Is it true that {A} is {rel} {B}?",
    "Can you confirm if {A} is {rel} {B}?",
    "Tell me, is {A} {rel} {B}?",
    "Looking at the image, is {A} {rel} {B}?",
    "In the picture, is {A} {rel} {B}?",
    "Answer yes or no: is {A} {rel} {B}?",
    "Is {A} {rel} {B} in this scene?",
    "Would {A} be {rel} {B}?",
    "Does {A} seem {rel} {B}?",
    "Is {A} actually {rel} {B}?",
    "From what you can see, is {A} {rel} {B}?",
    "Judging by the image, is {A} {rel} {B}?",
    "Do you think {A} is {rel} {B}?",
    "Could you tell me whether {A} is {rel} {B}?",
    "In this scene, is {A} {rel} {B}?",
    "Is {A} {rel} {B}, as far as you can tell?",
    "Is {A} really {rel} {B}?",
)
PREDICATE_YES: tuple[str, ...] = (
    "Yes, {A} is {rel} {B}.",
    "Yes.",
    "Yes, it is.",
    "Correct, {A} is {rel} {B}.",
    "Indeed, {A} is {rel} {B}.",
    "Yes, {A} is indeed {rel} {B}.",
    "Yes, that's right.",
    "Yes, {A} is {rel} {B} in this image.",
    "Correct.",
    "Yes, it is {rel} {B}.",
)
PREDICATE_NO: tuple[str, ...] = (
    "No, {A} is {opp} {B}.",
    "No.",
    "No, it is not.",
    "No, {A} is not {rel} {B}.",
    "No, it is actually {opp} {B}.",
    "No, {A} is in fact {opp} {B}.",
    "No, that's not the case.",
    "No, {A} is not {rel} {B}; it is {opp} it.",
    "Incorrect, {A} is {opp} {B}.",
    "No, it is {opp} {B}.",
)

# --------------------------------------------------------------------------- choices (which of two)
CHOICE_Q: tuple[str, ...] = (
    "Which is {adj}, {A} or {B}?",
    "Between {A} and {B}, which one is {adj}?",
    "Of {A} and {B}, which is {adj}?",
    "Which of these two is {adj}: {A} or {B}?",
    "{A} or {B}: which one is {adj}?",
    "Tell me which is {adj}, {A} or {B}.",
    "Looking at {A} and {B}, which is {adj}?",
    "Which object is {adj}, {A} or {B}?",
    "Which one is {adj}: {A} or {B}?",
    "Considering {A} and {B}, which is {adj}?",
    "Which is {adj} in the image, {A} or {B}?",
    "Comparing {A} and {B}, which one is {adj}?",
    "Can you tell which is {adj}, {A} or {B}?",
    "Out of {A} and {B}, which is {adj}?",
    "Which would you say is {adj}, {A} or {B}?",
    "Is {A} or {B} {adj}?",
    "Who is {adj}, {A} or {B}?",
    "Between {A} and {B}, which appears {adj}?",
    "From the camera's view, which is {adj}: {A} or {B}?",
    "Which of {A} and {B} is {adj}?",
)
CHOICE_A: tuple[str, ...] = (
    "{X} is {adj}.",
    "{X}.",
    "It is {X}.",
    "{X} is {rel} {Y}.",
    "{X} is the one that is {adj}.",
    "The answer is {X}.",
    "{X}, since it is {rel} {Y}.",
    "Of the two, {X} is {adj}.",
    "{X} is {adj} than the other.",
    "I would say {X}.",
)
# --------------------------------------------------------------------------- "which object" (open choice)
OPEN_CHOICE_Q: dict[str, tuple[str, ...]] = {
    "closest_object_choice": (
        "Which object is closest to {A}?", "What is the nearest object to {A}?",
        "Which object is nearest to {A}?", "What is closest to {A}?",
        "Which thing is the closest to {A}?",
    ),
    "nearest_to_camera_choice": (
        "Which object is closest to the camera?", "What is the nearest object to the viewer?",
        "Which object is nearest to the camera?", "What is closest to the camera?",
        "Which thing is closest to where the photo was taken?",
    ),
    "tallest_choice": (
        "Which object is the tallest?", "What is the tallest object here?",
        "Which object has the greatest height?", "What is the tallest thing in the scene?",
        "Which of the objects is tallest?",
    ),
}
OPEN_CHOICE_PREFIXES: tuple[str, ...] = ("", "Looking at the image, ", "In this scene, ", "From what you can see, ")
OPEN_CHOICE_A: dict[str, tuple[str, ...]] = {
    "closest_object_choice": (
        "{X} is closest to {A}.", "{X}.", "The closest object to {A} is {X}.", "It is {X}.",
        "{X} is nearest to {A}.", "The nearest one is {X}.", "I'd say {X}.", "{X} is the closest.",
        "That would be {X}.", "{X} is right next to {A}.",
    ),
    "nearest_to_camera_choice": (
        "{X} is closest to the camera.", "{X}.", "The closest object to the camera is {X}.", "It is {X}.",
        "{X} is nearest to the viewer.", "The nearest one is {X}.", "I'd say {X}.", "{X} is the closest.",
        "That would be {X}.", "{X} is in the foreground, closest to the camera.",
    ),
    "tallest_choice": (
        "{X} is the tallest.", "{X}.", "The tallest object is {X}.", "It is {X}.",
        "{X} is the tallest object.", "The tallest one is {X}.", "I'd say {X}.", "{X} is tallest.",
        "That would be {X}.", "{X} is taller than everything else.",
    ),
}

# --------------------------------------------------------------------------- between / fits
BETWEEN_Q: tuple[str, ...] = tuple(
    f.replace("{rel} {B}", "between {B} and {C}") for f in SPATIAL_PREDICATE_Q
)
BETWEEN_YES: tuple[str, ...] = (
    "Yes, {A} is between {B} and {C}.", "Yes.", "Yes, it is.", "Correct, {A} lies between {B} and {C}.",
    "Indeed, {A} is between them.", "Yes, {A} is in between {B} and {C}.", "Yes, that's right.",
    "Yes, it sits between {B} and {C}.", "Correct.", "Yes, {A} is located between the two.",
)
BETWEEN_NO: tuple[str, ...] = (
    "No, {A} is not between {B} and {C}.", "No.", "No, it is not.", "No, {A} lies outside of them.",
    "No, it is not in between.", "No, {A} is not located between the two.", "No, that's not the case.",
    "Incorrect, {A} is not between {B} and {C}.", "No, {A} is off to one side.", "No, it isn't.",
)
FITS_Q: tuple[str, ...] = (
    "Could a robot {width} wide fit between {A} and {B}?",
    "Can something {width} wide pass between {A} and {B}?",
    "Is there room for a cart {width} wide between {A} and {B}?",
    "Would a robot {width} wide fit through the gap between {A} and {B}?",
    "Is the gap between {A} and {B} wider than {width}?",
    "Could I push a box {width} wide between {A} and {B}?",
    "Is there at least {width} of free space between {A} and {B}?",
    "Can a person {width} wide squeeze between {A} and {B}?",
    "Would an object {width} across fit between {A} and {B}?",
    "Is the space between {A} and {B} more than {width}?",
    "Does a robot {width} wide have enough room to go between {A} and {B}?",
    "Can a vacuum robot {width} wide drive between {A} and {B}?",
    "Is there a gap of more than {width} between {A} and {B}?",
    "Would {width} of clearance be available between {A} and {B}?",
    "Could a trolley {width} wide get between {A} and {B}?",
    "Looking at the image, could a robot {width} wide fit between {A} and {B}?",
    "Is there enough space for something {width} wide between {A} and {B}?",
    "Can an object {width} wide pass through between {A} and {B}?",
    "Is the free space between {A} and {B} larger than {width}?",
    "Would a box {width} wide fit in the gap between {A} and {B}?",
)
FITS_YES: tuple[str, ...] = (
    "Yes, the gap is {value}.", "Yes.", "Yes, there is {value} of space.",
    "Yes, it would fit: the gap is {value}.", "Yes, {A} and {B} are {value} apart.",
    "Yes, with room to spare.", "Correct, the clearance is {value}.", "Yes, it fits.",
    "Yes, there is enough room.", "Yes, the free space is {value}.",
)
FITS_NO: tuple[str, ...] = (
    "No, the gap is only {value}.", "No.", "No, there is only {value} of space.",
    "No, it would not fit: the gap is {value}.", "No, {A} and {B} are only {value} apart.",
    "No, it is too tight.", "No, the clearance is {value}.", "No, it doesn't fit.",
    "No, there is not enough room.", "No, the free space is just {value}.",
)

# --------------------------------------------------------------------------- quantitative
QUANT_PREFIXES: tuple[str, ...] = ("", "Looking at the image, ", "In this scene, ")

QUANT_Q: dict[str, tuple[str, ...]] = {
    "distance": (
        "How far is {A} from {B}?", "What is the distance between {A} and {B}?",
        "How far apart are {A} and {B}?", "How much distance is there between {A} and {B}?",
        "Measure the distance from {A} to {B}.", "What is the distance from the center of {A} to {B}?",
        "How distant is {A} from {B}?",
    ),
    "horizontal_distance": (
        "What is the horizontal distance between {A} and {B}?", "How far apart are {A} and {B} horizontally?",
        "Ignoring height, how far is {A} from {B}?", "Measured along the floor, how far is {A} from {B}?",
        "How far is {A} from {B} in the horizontal plane?", "What is the floor distance between {A} and {B}?",
        "Horizontally, how far is {A} from {B}?",
    ),
    "vertical_distance": (
        "What is the vertical distance between {A} and {B}?", "How far apart are {A} and {B} vertically?",
        "How big is the height difference between the centers of {A} and {B}?",
        "Vertically, how far is {A} from {B}?", "How far is {A} from {B} along the vertical?",
        "What is the vertical separation between {A} and {B}?", "How much vertical distance separates {A} and {B}?",
    ),
    "gap": (
        "How much free space is there between {A} and {B}?", "What is the gap between {A} and {B}?",
        "How wide is the gap between {A} and {B}?", "What is the clearance between {A} and {B}?",
        "How much room is there between {A} and {B}?", "How far is the edge of {A} from the edge of {B}?",
        "How wide is the space between {A} and {B}?",
    ),
    "min_distance": (
        "How close does {A} come to {B}?", "What is the shortest distance between {A} and {B}?",
        "How far is {A} from {B} at their closest points?", "What is the minimum distance between {A} and {B}?",
        "How near is {A} to {B} at the closest point?", "What is the smallest separation between {A} and {B}?",
        "How far apart are the nearest parts of {A} and {B}?",
    ),
    "width": (
        "How wide is {A}?", "What is the width of {A}?", "How broad is {A}?", "Tell me the width of {A}.",
        "What width does {A} have?", "How wide would you say {A} is?", "Measure the width of {A}.",
    ),
    "height": (
        "How tall is {A}?", "What is the height of {A}?", "How high is {A}?", "Tell me the height of {A}.",
        "What height does {A} have?", "How tall would you say {A} is?", "Measure the height of {A}.",
    ),
    "depth": (
        "How deep is {A}?", "What is the depth of {A}?", "How long is {A} front to back?",
        "Tell me the depth of {A}.", "What is the length of the shorter side of {A}?",
        "How deep would you say {A} is?", "Measure the depth of {A}.",
    ),
    "height_above_floor": (
        "How high above the floor is {A}?", "How far is the bottom of {A} above the floor?",
        "At what height above the ground is {A}?", "How high off the floor does {A} sit?",
        "What is the height of {A} above the floor?", "How far above the ground is {A}?",
        "How high up from the floor is {A}?",
    ),
    "elevation_difference": (
        "How much higher is the top of {A} than the top of {B}?", "How much higher does {A} reach than {B}?",
        "By how much does {A} rise above {B}?", "How much higher is {A} than {B}?",
        "What is the elevation difference between the tops of {A} and {B}?",
        "How far does the top of {A} stick out above the top of {B}?", "How much further up does {A} reach than {B}?",
    ),
    "height_difference": (
        "How much taller is {A} than {B}?", "By how much is {A} taller than {B}?",
        "What is the height difference between {A} and {B}?", "How much shorter is {B} than {A}?",
        "How much more height does {A} have than {B}?", "How much does {A} exceed {B} in height?",
        "What is the difference in height between {A} and {B}?",
    ),
    "distance_to_camera": (
        "How far is {A} from the camera?", "What is the distance from the camera to {A}?",
        "How far away is {A}?", "How far is {A} from the viewer?",
        "How far was the camera from {A}?", "What is the distance between the camera and {A}?",
        "How far from the photographer is {A}?",
    ),
    "farther_by": (
        "How much farther from the camera is {A} than {B}?", "By how much is {A} farther away than {B}?",
        "How much more distant from the camera is {A} compared to {B}?",
        "How much closer to the camera is {B} than {A}?", "What is the difference in camera distance between {A} and {B}?",
        "How much further away is {A} than {B}?", "By what distance is {A} farther from the viewer than {B}?",
    ),
    "clock_direction": (
        "At what clock position is {A} relative to the camera?", "In which clock direction is {A} from the camera?",
        "If the camera faces 12 o'clock, where is {A}?", "Which o'clock direction is {A} in, seen from the camera?",
        "Facing forward from the camera, at what o'clock is {A}?", "What clock position does {A} have from the viewer?",
        "From the camera, in what o'clock direction would you find {A}?",
    ),
    "relative_clock": (
        "Standing at {A} and facing the same way as the camera, at what o'clock is {B}?",
        "From {A}, facing away from the camera, in which clock direction is {B}?",
        "If you stood at {A} looking the way the camera looks, where is {B} on a clock face?",
        "Facing forward from {A}, at what clock position is {B}?",
        "Relative to {A}, with 12 o'clock pointing away from the camera, where is {B}?",
        "Seen from {A} facing the camera's direction, what o'clock is {B}?",
        "Which o'clock is {B} from {A}, when facing the same direction as the camera?",
    ),
    "bearing": (
        "How many degrees off the camera's straight-ahead direction is {A}?",
        "At what angle from the camera's viewing direction is {A}?",
        "How far to the side of straight ahead is {A}, in degrees?",
        "What is the bearing of {A} relative to the camera's forward direction?",
        "By how many degrees would the camera have to turn to face {A}?",
        "What angle does {A} make with the camera's line of sight?",
        "How many degrees left or right of center is {A}?",
    ),
    "count": (
        "How many {plural} are there?", "How many {plural} can you see?", "How many {plural} are in the image?",
        "Count the {plural} in the scene.", "What is the number of {plural} here?",
        "How many {plural} does the scene contain?", "How many {plural} are visible?",
    ),
    "stack_count": (
        "How many of {A} stacked on top of each other would reach the height of {B}?",
        "How many copies of {A}, stacked, would be as tall as {B}?",
        "If you stacked {A} on itself, how many would match the height of {B}?",
        "How many of {A} high is {B}?", "How many stacked copies of {A} equal the height of {B}?",
        "Roughly how many of {A} piled up would reach the top of {B}?",
        "How many times {A}'s height is {B}'s height?",
    ),
    "side_by_side_count": (
        "How many of {A} placed side by side would span the width of {B}?",
        "How many copies of {A}, side by side, would be as wide as {B}?",
        "How many of {A} lined up would match the width of {B}?",
        "How many times wider is {B} than {A}?", "How many of {A} fit side by side across {B}?",
        "Roughly how many of {A} in a row would cover the width of {B}?",
        "How many widths of {A} make up the width of {B}?",
    ),
}

QUANT_A_GENERIC: tuple[str, ...] = ("{value}.", "It is {value}.", "I'd say {value}.", "That would be {value}.")
QUANT_A: dict[str, tuple[str, ...]] = {
    "distance": ("{A} is {value} from {B}.", "They are {value} apart.", "The distance is {value}.",
                 "{A} and {B} are {value} apart.", "{B} is {value} away from {A}.", "It is {value} away."),
    "horizontal_distance": ("Horizontally, they are {value} apart.", "The horizontal distance is {value}.",
                            "{A} is {value} from {B} along the floor.", "Along the floor, {value}.",
                            "{A} and {B} are {value} apart horizontally.", "The floor distance is {value}."),
    "vertical_distance": ("Vertically, they are {value} apart.", "The vertical distance is {value}.",
                          "{A} and {B} are {value} apart vertically.", "Their centers differ by {value} in height.",
                          "The vertical separation is {value}.", "There are {value} between them vertically."),
    "gap": ("There is {value} of free space between them.", "The gap is {value}.",
            "{A} and {B} are {value} apart at their edges.", "The clearance is {value}.",
            "There is a gap of {value} between {A} and {B}.", "The free space between them is {value}."),
    "min_distance": ("At their closest, they are {value} apart.", "The shortest distance is {value}.",
                     "{A} comes within {value} of {B}.", "The minimum distance is {value}.",
                     "Their nearest points are {value} apart.", "{A} is {value} from {B} at the closest point."),
    "width": ("{A} is {value} wide.", "The width of {A} is {value}.", "It is {value} wide.",
              "{A} measures {value} across.", "Its width is {value}.", "{A} has a width of {value}."),
    "height": ("{A} is {value} tall.", "The height of {A} is {value}.", "It is {value} tall.",
               "{A} stands {value} high.", "Its height is {value}.", "{A} has a height of {value}."),
    "depth": ("{A} is {value} deep.", "The depth of {A} is {value}.", "It is {value} deep.",
              "{A} measures {value} front to back.", "Its depth is {value}.", "{A} has a depth of {value}."),
    "height_above_floor": ("{A} is {value} above the floor.", "The bottom of {A} is {value} off the ground.",
                           "It sits {value} above the floor.", "{A} is {value} off the floor.",
                           "Its height above the floor is {value}.", "{A} is raised {value} above the ground."),
    "elevation_difference": ("The top of {A} is {value} higher than the top of {B}.", "{A} reaches {value} higher.",
                             "{A} rises {value} above {B}.", "The difference is {value}.",
                             "{A} is {value} higher than {B}.", "The tops differ by {value}."),
    "height_difference": ("{A} is {value} taller than {B}.", "The height difference is {value}.",
                          "{B} is {value} shorter than {A}.", "{A} is taller by {value}.",
                          "The difference in height is {value}.", "{A} exceeds {B} by {value}."),
    "distance_to_camera": ("{A} is {value} from the camera.", "The camera is {value} away from {A}.",
                           "It is {value} away.", "{A} is {value} away from the viewer.",
                           "The distance to {A} is {value}.", "{A} is {value} from where the photo was taken."),
    "farther_by": ("{A} is {value} farther from the camera than {B}.", "The difference is {value}.",
                   "{B} is {value} closer to the camera than {A}.", "{A} is farther by {value}.",
                   "By {value}.", "{A} is {value} further away than {B}."),
    "clock_direction": ("{A} is at {value}.", "At {value}.", "It is at {value}.", "{A} is at the {value} position.",
                        "You would find {A} at {value}.", "{value}, relative to the camera."),
    "relative_clock": ("{B} is at {value} from {A}.", "At {value}.", "It is at {value}.",
                       "From {A}, {B} is at {value}.", "You would find {B} at {value}.", "{value}, seen from {A}."),
    "bearing": ("{A} is {value} of straight ahead.", "About {value}.", "{A} lies {value}.",
                "{A} is at {value} of the camera's axis.", "The camera would turn {value}.",
                "{value} of center."),
    "count": ("I count {value}.", "The count is {value}.", "{value} in total.", "I can see {value}.",
              "There appear to be {value}.", "My count is {value}."),
    "stack_count": ("About {value} of {A} would reach the height of {B}.", "It would take about {value} of {A}.",
                    "Roughly {value} of them.", "About {value}, stacked.",
                    "{value} of {A}, stacked on top of each other.", "Stacking {value} of {A} would match {B}."),
    "side_by_side_count": ("About {value} of {A} would span the width of {B}.", "It would take about {value} of {A}.",
                           "Roughly {value} of them.", "About {value} side by side.",
                           "{value} of {A}, lined up side by side.", "A row of {value} of {A} would match {B}."),
}

_SLOT = re.compile(r"\{[A-Za-z_]+\}")


def quant_questions(qtype: str) -> tuple[str, ...]:
    """The ~20 question templates of a quantitative type: its stems under each neutral prefix."""
    out = []
    for prefix in QUANT_PREFIXES:
        for stem in QUANT_Q[qtype]:
            out.append(prefix + (stem[0].lower() + stem[1:] if prefix and not stem.startswith("{") else stem))
    return tuple(out)


def open_choice_questions(qtype: str) -> tuple[str, ...]:
    """The ~20 question templates of a which-object type: its stems under each neutral prefix."""
    return tuple(p + (s[0].lower() + s[1:] if p else s) for p in OPEN_CHOICE_PREFIXES for s in OPEN_CHOICE_Q[qtype])


def quant_answers(qtype: str) -> tuple[str, ...]:
    return QUANT_A[qtype] + QUANT_A_GENERIC


def render(template: str, **slots: str) -> str:
    """Fill ``{slot}``s; raises ValueError naming any slot left unfilled, capitalises the first letter."""
    text = template
    for key, value in slots.items():
        text = text.replace("{" + key + "}", value)
    left = _SLOT.findall(text)
    if left:
        raise ValueError(f"template {template!r} left slots unfilled: {left}")
    return text[0].upper() + text[1:] if text else text
