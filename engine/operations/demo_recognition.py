"""Demo data for the recognition feed and the feedback page: praise between colleagues of the
product team (public and private, tagged with the company values), and feedback for the demo
employee — one piece answered with a reply, one waiting for Acknowledge or Reply.

Everything goes through the pack's processes, as the pages would send it: praise starts the
recognition process, feedback the feedback process, and the reply completes the receiver's
respond step. So the demo shows what a user's own actions would leave behind, no more.
"""

from __future__ import annotations

from engine.base.models import HumanTask
from engine.performance import feedback, recognition
from engine.performance.deployed_pack import current_features
from engine.workflow import runtime

# (giver, colleague, tag, visibility, message). The demo logins: employee E1021, her manager
# E1009, HR admin E1003, designer E1005.
DEMO_PRAISE = [
    ("E1020", "E1021", "Own it", "public",
     "Stayed with the customer portal release until the last migration ran clean — and wrote "
     "down every step so the next one takes ten minutes."),
    ("E1021", "E1019", "Keep learning", "public",
     "Picked up the accessibility audit with no background in it and taught the rest of us "
     "what a screen reader actually hears."),
    ("E1009", "E1021", "Customers first", "public",
     "Called the two customers whose exports failed before they noticed, and had the fix "
     "out the same afternoon."),
    ("E1022", "E1021", "Better together", "private",
     "Thank you for pairing with me through my first on-call week. I would not have asked."),
    ("E1010", "E1020", "Do the right thing", "public",
     "Flagged that the test data held real customer names and cleaned it up across three "
     "services."),
    ("E1021", "E1009", "Better together", "private",
     "Thanks for keeping Fridays free of meetings: the team ships more and argues less."),
    ("E1003", "E1005", "Better together", "public",
     "Turned the review form feedback from forty managers into a shorter, clearer form in "
     "a week."),
    ("E1008", "E1022", "Own it", "public",
     "Took the flaky build on the platform side and did not let go until it was green for "
     "a week."),
]

# (giver, receiver, topic, text, the receiver's reply or None: left to answer).
DEMO_FEEDBACK = [
    ("E1020", "E1021", "the portal release",
     "Your release notes were the clearest we have had: support knew what changed before "
     "the first ticket came in.",
     "Thank you — I used the checklist from the incident review. Happy to share it."),
    ("E1009", "E1021", "the quarterly demo",
     "The demo was well paced and the live data made it real. Next time, leave five minutes "
     "for questions.", None),
]


async def seed_demo_recognition() -> int:
    """Give the demo's praise and feedback through the pack's processes; returns how many
    pieces of praise were recorded."""
    for giver, about, tag, visibility, message in DEMO_PRAISE:
        actor = await runtime.actor_for(giver)
        await recognition.praise_colleague(actor, {
            "colleague": about, "message": message, "tag": tag, "visibility": visibility,
        })
    features = (await current_features()).feedback
    for giver, about, topic, text, reply in DEMO_FEEDBACK:
        actor = await runtime.actor_for(giver)
        write = await feedback.start_feedback(actor, {
            "mode": "give", "colleague": about, "topic": topic, "request_message": None,
        })
        if write is None:
            raise RuntimeError("the feedback process did not ask for the feedback's text")
        instance = (await HumanTask.get(id=write)).instance_id
        await runtime.complete_task(write, actor, {"feedback_text": text,
                                                   "visibility": "shared"})
        if reply is None:
            continue
        receiver = await runtime.actor_for(about)
        step = await HumanTask.get(instance_id=instance, bpmn_id=features.respond_task,
                                   status="ready")
        await feedback.respond_to_feedback(receiver, step.id, "reply", reply)
    return len(DEMO_PRAISE)
