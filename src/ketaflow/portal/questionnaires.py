"""Item text of the self-report questionnaires a patient answers in the portal.

Only public-domain instruments are reproduced (clinical.md s. 5): PCL-5 (US Government work,
National Center for PTSD; Weathers et al. 2013), PHQ-9 (Kroenke, Spitzer & Williams 2001) and
GAD-7 (Spitzer et al. 2006), both free to reproduce (phqscreeners.com). The text of licensed
instruments (C-SSRS, CAPS-5, MADRS, CADSS) is never written here. Scoring is
``ketaflow.clinical.score``; this module only says what the patient reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaflow.clinical import Instrument


@dataclass(frozen=True)
class Questionnaire:
    instrument: Instrument
    title: str
    stem: str
    anchors: tuple[str, ...]  # the label of rating 0, 1, ...
    items: tuple[str, ...]

    @property
    def slug(self) -> str:
        return self.instrument.value

    @property
    def choices(self) -> list[tuple[int, str]]:
        return list(enumerate(self.anchors))


_FREQUENCY = ("Not at all", "Several days", "More than half the days", "Nearly every day")

PHQ9 = Questionnaire(
    instrument=Instrument.PHQ9,
    title="PHQ-9",
    stem=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    anchors=_FREQUENCY,
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your "
        "family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed; or the opposite, "
        "being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
)

GAD7 = Questionnaire(
    instrument=Instrument.GAD7,
    title="GAD-7",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    anchors=_FREQUENCY,
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
)

PCL5 = Questionnaire(
    instrument=Instrument.PCL5,
    title="PCL-5",
    stem=(
        "Below is a list of problems that people sometimes have in response to a very stressful "
        "experience. Keeping your worst event in mind, please read each problem carefully and "
        "then choose how much you have been bothered by that problem in the past month. "
        "In the past month, how much were you bothered by:"
    ),
    anchors=("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"),
    items=(
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening again "
        "(as if you were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful "
        "experience (for example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, places, "
        "conversations, activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for example, "
        "having thoughts such as: I am bad, there is something seriously wrong with me, no one "
        "can be trusted, the world is completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or "
        "have loving feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        'Being "superalert" or watchful or on guard?',
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    ),
)

PORTAL_QUESTIONNAIRES: dict[str, Questionnaire] = {q.slug: q for q in (PHQ9, GAD7, PCL5)}


def questionnaire(slug: str) -> Questionnaire | None:
    return PORTAL_QUESTIONNAIRES.get(slug)
