"""Generate mindscreen's small SYNTHETIC demo dataset for the quickstart.

Every text is composed from hand-written phrase banks in this file (openers, situations,
feelings, intensifiers, time phrases, closers), one bank set per label. None of it is real
people's words and none of it is copied from any public corpus. The data exists so the
quickstart and smoke tests can train a multi-label classifier in minutes; it is not fit for
evaluating clinical use.

Labels (multi-label, 1-3 per row): neutral, stress, anxiety, depression, suicidal_ideation,
self_harm. ``neutral`` never co-occurs with another label. Crisis texts state the state plainly
and carry no method or graphic detail.

The generator is deterministic (fixed seed, standard library only, no network): running

    python scripts/make_demo_data.py

rewrites ``src/mindscreen/demo/{train,dev,test}.jsonl`` and ``dataset.json`` byte-for-byte
identically each time.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

SEED = 13
OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "mindscreen" / "demo"
LABELS: tuple[str, ...] = ("neutral", "stress", "anxiety", "depression", "suicidal_ideation", "self_harm")
SPLITS: tuple[str, ...] = ("train", "dev", "test")
MIN_WORDS, MAX_WORDS = 8, 40
MAX_JACCARD = 0.7  # reject a text whose word set overlaps an earlier one more than this

# Label combinations and how many rows each gets over the whole dataset (~600 rows).
# Order matters for determinism. Dev and test each get round(15%) of every combination.
COMBOS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("neutral",), 200),
    (("stress",), 117),
    (("anxiety",), 42),
    (("depression",), 44),
    (("stress", "anxiety"), 54),
    (("anxiety", "depression"), 26),
    (("stress", "depression"), 18),
    (("stress", "anxiety", "depression"), 8),
    (("depression", "suicidal_ideation"), 30),
    (("suicidal_ideation",), 9),
    (("anxiety", "depression", "suicidal_ideation"), 7),
    (("depression", "self_harm"), 20),
    (("self_harm",), 9),
    (("depression", "suicidal_ideation", "self_harm"), 6),
    (("anxiety", "self_harm"), 6),
    (("stress", "self_harm"), 4),
)
DEV_FRACTION = TEST_FRACTION = 0.15

# ---------------------------------------------------------------------------------------------
# Slot fillers. A template refers to them as {name}; fillers may themselves contain slots.
# ---------------------------------------------------------------------------------------------
SLOTS: dict[str, tuple[str, ...]] = {
    "person": (
        "my mum",
        "my dad",
        "my sister",
        "my brother",
        "my partner",
        "my boyfriend",
        "my girlfriend",
        "my best friend",
        "my roommate",
        "my flatmate",
        "my husband",
        "my wife",
        "my cousin",
    ),
    "task": (
        "the quarterly report",
        "my thesis chapter",
        "the product launch",
        "the group project",
        "a grant application",
        "the stock count",
        "a client pitch",
        "my lab write-up",
        "the month-end invoices",
        "my tax return",
        "my coursework",
        "the hiring round",
        "the house move",
        "my essay",
        "the audit",
    ),
    "deadline": ("tomorrow", "on Friday", "by Monday", "at the end of the week", "in two days", "tonight"),
    "time": (
        "lately",
        "this week",
        "for the past few days",
        "since Monday",
        "all month",
        "for weeks now",
        "since the holidays",
        "most nights",
        "again today",
        "since term started",
        "all weekend",
        "since the breakup",
        "since I moved",
    ),
    "n": ("two", "three", "four", "five", "six"),
    "many": ("four", "five", "six", "ten"),
    "event_past": (
        "what I said in the meeting",
        "the conversation with {person}",
        "a text I sent yesterday",
        "a joke I made at dinner",
        "the way I answered in class",
        "an email I sent to {person}",
    ),
    "event_future": (
        "the presentation on Thursday",
        "my driving test",
        "the doctor's appointment",
        "going back to the office",
        "the family dinner this weekend",
        "my exam results",
        "the phone call with the bank",
        "meeting my partner's friends",
        "my performance review",
        "the flight next week",
        "the job interview",
        "my first day at the new job",
    ),
    "hobby": (
        "painting",
        "running",
        "playing guitar",
        "gaming",
        "baking",
        "reading",
        "playing football",
        "drawing",
        "swimming",
        "knitting",
        "climbing",
        "photography",
    ),
    "activity": (
        "a long walk",
        "the gym",
        "a swim",
        "cleaning the flat",
        "a bike ride",
        "gardening",
        "a shift at the cafe",
        "football practice",
        "a hike",
        "helping {person} move furniture",
    ),
    "place": (
        "the park",
        "the market",
        "a cafe",
        "the library",
        "the beach",
        "my aunt's place",
        "the cinema",
    ),
    "food": ("pasta", "a curry", "soup", "tacos", "a stir-fry", "pancakes", "a big salad", "risotto"),
    "show": (
        "a documentary",
        "an old film",
        "a cooking show",
        "a couple of episodes of a sitcom",
        "the match",
    ),
    "weather": ("rainy", "windy", "grey", "sunny", "cold", "warm"),
    "intens": ("really", "so", "completely", "honestly", "totally"),
    "adv": ("really", "honestly", "seriously", "just", "genuinely"),
    "recent": ("last night", "this week", "on Sunday", "yesterday", "over the weekend", "after work today"),
    "dependant": ("my mum", "my dad", "the kids", "my grandad", "a newborn", "my little brother"),
    "asker": ("my manager", "the client", "my supervisor", "my team lead", "the landlord"),
    "where": (
        "on the bus",
        "at the supermarket",
        "in a lecture",
        "at work",
        "in the middle of a meeting",
        "at my cousin's wedding",
        "on the train",
        "in the queue at the bank",
    ),
    "worry": (
        "my health",
        "money",
        "losing my job",
        "my relationship",
        "the future",
        "my grades",
        "my visa",
        "{person}",
    ),
    "whatif": (
        "I get fired",
        "I fail",
        "something happens to {person}",
        "everyone secretly hates me",
        "something is seriously wrong with me",
        "I freeze during {event_future}",
        "I can't pay rent",
    ),
    "bill": (
        "rent",
        "the electricity bill",
        "the credit card bill",
        "the car repair bill",
        "the phone bill",
        "council tax",
    ),
    "role": (
        "a nurse",
        "a student",
        "a teacher",
        "a warehouse worker",
        "a software developer",
        "a barista",
        "a new parent",
        "a delivery driver",
        "a junior doctor",
        "a retail manager",
    ),
    "family": ("my family", "my parents", "my friends", "everyone at home", "my partner"),
    "setting": ("at work", "at uni", "at school", "at home"),
}

# ---------------------------------------------------------------------------------------------
# Phrase banks per label. "core" sentences express the label; they are combined for multi-label
# rows. Some words (tired, sleep, work, exams, nervous) deliberately appear in several labels.
# ---------------------------------------------------------------------------------------------
CORE: dict[str, tuple[str, ...]] = {
    "neutral": (
        "Had a pretty normal day at work, finished {task} and went for {activity} after.",
        "I'm a bit tired tonight but it's the good kind of tired after {activity}.",
        "Exams start next week, I have a study plan and honestly I feel okay about it.",
        "Slept about seven hours last night, which is decent for me.",
        "Today I went to {place} with {person} and cooked {food} for dinner.",
        "Mood is fine, work was busy but manageable.",
        "{person} came over for dinner and we watched {show}.",
        "Does anyone have tips for keeping a regular sleep schedule? Just curious what works for people.",
        "Started {hobby} this month and I'm enjoying it more than I expected.",
        "Work was slow today so I tidied my desk and caught up on emails.",
        "Feeling pretty steady {time}, nothing big to report.",
        "I have a job interview on Thursday and I'm prepping a bit each evening, feels under control.",
        "It was {weather} today so I stayed in, read a book and made {food}.",
        "Went to bed early, woke up rested and got through my to-do list.",
        "A bit nervous about {event_future} but I've prepared and I think it'll go fine.",
        "Wrapped up {task} this afternoon and got decent feedback.",
        "Long week at work but I'm looking forward to a quiet weekend with {person}.",
        "Ordinary day as {role}, a few busy hours and then home.",
        "Trying the mood tracker for the first time, today I'd call it a six out of ten and fine.",
        "Bit sleepy after lunch but otherwise a good, productive afternoon.",
        "Got my exam timetable today, three papers in two weeks, which seems doable.",
        "Caught up with {person} on the phone, we talked for an hour and laughed a lot.",
        "My sleep has been okay {time}, I've stopped looking at my phone in bed.",
        "Spent the evening {hobby} and lost track of time in a nice way.",
        "The new schedule at work takes some getting used to, but it's fine so far.",
        "Tired legs after {activity}, planning a lazy evening with {food}.",
        "Nothing special today, groceries, laundry and a walk around {place}.",
        "Finally booked the dentist and sorted out {bill}, feels good to tick things off.",
        "Took a day off to rest and it was exactly what I needed.",
        "Revising for exams in {place} with a friend, we keep each other on track.",
        "Meeting with my manager went well, we agreed on priorities for next month.",
        "Just checking in, I'm doing alright and keeping up with my routine.",
        "I've been {hobby} most evenings {time} and it keeps me relaxed.",
        "First week at the new job done, people seem friendly and I'm learning a lot.",
        "Work was stressful this morning but it calmed down after lunch and I feel fine now.",
        "Felt a little down when I woke up, but a walk and some breakfast sorted it out.",
        "Had a hard week, talked it through with {person} and I feel much better about it.",
        "My therapist says I've made good progress and I agree, things feel steady.",
        "Couldn't sleep much last night because of the neighbours' party, will nap later.",
        "Tired after a long shift, but I had a nice chat with a patient and it made my day.",
        "Busy few days with {task}, but it's nearly done and I'm pleased with it.",
        "I worry about money like everyone does, but this month the budget actually worked out.",
    ),
    "stress": (
        "{task} is due {deadline} and I {adv} can't keep up.",
        "My boss keeps piling on tasks and I'm running on about {n} hours of sleep.",
        "Between {task} and {task} I don't have a minute to breathe.",
        "I've been {intens} overwhelmed with {task} {time}.",
        "Everything is due at once and I keep snapping at {person} over nothing.",
        "I'm so tired from double shifts, the to-do list never ends.",
        "Money is tight this month and {bill} is due, I keep redoing the budget.",
        "Too many people have needed something from me {time} and I'm stretched thin.",
        "I haven't had a day off in {n} weeks and I'm burning out.",
        "Juggling {task} and looking after {dependant} is wearing me down.",
        "My inbox is out of control and {asker} keeps asking for updates.",
        "There's so much pressure {setting} that I eat lunch at my desk every day.",
        "I have {n} exams in one week and no idea how to fit in the revision.",
        "I'm exhausted, work keeps creeping into my evenings and weekends.",
        "The landlord wants us out in a month and I still have to finish {task}.",
        "Every time I clear one thing two more land on my plate.",
        "We're so short-staffed at work that I'm covering for three people.",
        "I've got a constant tension headache from all the deadlines {time}.",
        "I'm trying to hold everything together {setting} and it's too much.",
        "I keep working late to catch up and I'm still behind on {task}.",
        "Planning the wedding while finishing {task} is pushing me to my limit.",
        "My jaw is sore from clenching, {task} has taken over my life.",
        "I feel pulled in every direction, {dependant} needs help and work needs more hours.",
        "I'm tired and irritable all the time because there's just too much on.",
        "I've had zero time for myself {time}, it's work, chores, sleep, repeat.",
        "I'm worried I won't finish {task} in time and everyone is counting on me.",
        "I can't sleep properly because I keep thinking about the to-do list for {deadline}.",
        "I feel like I'm failing at work and at home because there aren't enough hours.",
    ),
    "anxiety": (
        "My heart has been racing every time my phone buzzes {time}.",
        "I keep replaying {event_past} and I'm sure everyone noticed.",
        "I can't stop worrying that something bad will happen to {person}.",
        "I had a panic attack {where} and had to leave.",
        "I lie awake imagining the worst about {worry}.",
        "My chest gets tight just thinking about {event_future}.",
        "I cancelled plans again because the thought of going out made me feel sick with nerves.",
        "What if {whatif}? I can't shake the thought.",
        "There's a constant knot in my stomach and I can't say why.",
        "I've checked the door is locked {many} times tonight and I still can't settle.",
        "I'm terrified of {event_future}, my hands have been shaking all morning.",
        "I can't sleep because my mind keeps running through everything that could go wrong.",
        "Even small things like making a phone call make me feel dizzy and panicky.",
        "I feel on edge all the time, like something terrible is about to happen.",
        "My breathing goes weird and fast whenever I think about {worry}.",
        "I rehearse every conversation a dozen times and still dread it.",
        "I keep googling symptoms and convincing myself I'm seriously ill.",
        "I'm so nervous about {event_future} that I can't eat.",
        "The worrying doesn't switch off, even when things are going fine.",
        "I avoid {place} now because I'm scared of panicking in front of people.",
        "I felt the panic building {where} and hid in the toilets until it passed.",
        "I keep thinking {person} is angry with me and I can't stop checking my messages.",
        "Work is fine on paper but I wake up every morning with a sense of dread.",
        "I feel tired all the time from being on high alert.",
        "I know it's irrational but I'm scared to open my emails {time}.",
    ),
    "depression": (
        "I've felt empty {time} and nothing I used to enjoy feels like anything.",
        "I can't get out of bed most days, I'm tired no matter how much I sleep.",
        "I haven't replied to {person} in weeks, I just don't have the energy.",
        "Everything has felt grey and heavy {time}.",
        "I stopped {hobby} months ago and I don't even miss it.",
        "I cry in the shower and then pretend I'm fine.",
        "I feel worthless, like I'm failing at everything.",
        "Some days I don't eat until evening because I can't be bothered.",
        "I'm so tired of feeling this flat all the time.",
        "Nothing feels worth the effort, even a shower feels like a mountain.",
        "I used to love {hobby} and now I just stare at the wall.",
        "I sleep fourteen hours and still wake up exhausted and numb.",
        "The days blur together and I can't remember the last time I felt happy.",
        "I've been calling in sick because I can't face anyone.",
        "I feel hopeless about things ever getting better.",
        "My flat is a mess and I can't find the motivation to do anything about it.",
        "I feel like I'm watching my life from behind glass.",
        "I keep cancelling on {person} because I have nothing left to give.",
        "I feel so alone even when I'm with people.",
        "I hate myself a bit more every day.",
        "I don't feel sad exactly, just nothing at all.",
        "Getting through a normal day takes everything I've got.",
        "I've lost interest in food, friends, all of it.",
        "I drag myself to work, come home and go straight to bed.",
        "I'm behind on {task} but I can't make myself care about it.",
        "I keep telling {person} I'm just tired but it's more than that.",
    ),
    "suicidal_ideation": (
        "I keep thinking everyone would be better off without me.",
        "Sometimes I wish I could just not wake up.",
        "I've been having thoughts about ending my life {time}.",
        "I don't want to be here anymore.",
        "I keep thinking about dying and it scares me how calm I feel about it.",
        "The thought of killing myself has started coming back.",
        "I can't see a reason to keep living.",
        "Part of me wants to stop existing.",
        "I feel like {family} would be relieved if I was gone.",
        "I keep wishing I could disappear for good.",
        "The thought that I could just end it all won't go away.",
        "I've started thinking about suicide again.",
        "Some nights I think about not being alive anymore and it feels like relief.",
        "I don't think I want to live through another year of this.",
    ),
    "self_harm": (
        "I cut myself again last night.",
        "I hurt myself again after the argument with {person}.",
        "I relapsed on self-harm {recent} after {n} months clean.",
        "I've been hurting myself to cope and hiding it with long sleeves.",
        "The urge to hurt myself has been really strong {time}.",
        "I keep hurting myself when things get too much.",
        "I self-harmed again and I feel ashamed.",
        "{person} noticed the marks on my arm and I lied about them.",
        "Hurting myself is the only thing that makes the feeling stop for a bit.",
        "I've started self-harming again after a long break.",
        "I promised myself I'd stop hurting myself but I did it again.",
        "I hurt myself on purpose {recent} and I don't know how to stop.",
    ),
}

# Sentences that set the scene without signalling a label; used across all labels as noise.
CONTEXT: tuple[str, ...] = (
    "I'm {role}.",
    "It's been {weather} all week.",
    "{person} is visiting this weekend.",
    "I started a new job a couple of months ago.",
    "Exams are coming up.",
    "I'm writing this on my lunch break.",
    "Writing this from bed.",
    "I moved to a new city this year.",
    "I'm in my second year at uni.",
    "Work has been busy.",
    "I've been a bit tired {time}.",
    "We just got back from visiting family.",
)

OPENERS_SHARED: tuple[str, ...] = (
    "Hi.",
    "Check-in:",
    "Journal:",
    "Okay,",
    "Honestly,",
    "Update:",
    "So,",
    "Late night post.",
    "Morning check-in:",
    "Day log:",
)
OPENERS: dict[str, tuple[str, ...]] = {
    "neutral": ("Quick update:", "Daily log:", "Today:"),
    "stress": ("Ugh.", "Rant incoming.", "Not sure how to say this, but"),
    "anxiety": ("Bit of a weird one.", "Can't settle tonight.", "Not sure how to say this, but"),
    "depression": ("Another day.", "Not great.", "Not sure how to say this, but"),
    "suicidal_ideation": ("This is hard to write, but", "I need to tell someone:"),
    "self_harm": ("This is hard to write, but", "I need to tell someone:"),
}

CLOSERS_SHARED: tuple[str, ...] = ("Anyway.", "That's it for today.", "Not sure why I'm posting this.")
CLOSERS: dict[str, tuple[str, ...]] = {
    "neutral": ("Overall a good day.", "Just logging it.", "Feeling fine.", "Back to it tomorrow."),
    "stress": ("I just need a break.", "Something has to give.", "How do people manage all this?"),
    "anxiety": ("Does this ever go away?", "I hate feeling like this.", "My mind won't slow down."),
    "depression": ("I don't know how to get out of this.", "I'm just going through the motions."),
    "suicidal_ideation": (
        "I haven't told anyone.",
        "I'm scared of my own thoughts.",
        "I don't know who to talk to.",
    ),
    "self_harm": ("I haven't told anyone.", "I feel so ashamed.", "I don't know how to stop."),
}


class Row(TypedDict):
    text: str
    labels: list[str]


_SLOT_RE = re.compile(r"\{(\w+)\}")
_WORD_RE = re.compile(r"[a-z']+")


def fill(template: str, rng: random.Random) -> str:
    """Replace every {slot} independently with a random filler, recursively."""
    text = template
    for _ in range(5):
        new = _SLOT_RE.sub(lambda m: rng.choice(SLOTS[m.group(1)]), text)
        if new == text:
            break
        text = new
    return text


def cap_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def join_opener(opener: str, sentence: str) -> str:
    """Attach an opener; after a comma or 'but', lower-case the next word unless it is 'I'."""
    if opener.endswith((",", "but")):
        first = sentence.split(" ", 1)[0]
        if not (first == "I" or first.startswith("I'")):
            sentence = sentence[:1].lower() + sentence[1:]
    return f"{opener} {sentence}"


def compose(labels: Sequence[str], rng: random.Random) -> str:
    """Build one text for a label combination from the phrase banks."""
    sentences = [cap_first(fill(rng.choice(CORE[label]), rng)) for label in labels]
    # Single-label rows sometimes get a second core sentence for the same label.
    if len(labels) == 1 and rng.random() < 0.3:
        extra = cap_first(fill(rng.choice(CORE[labels[0]]), rng))
        if extra != sentences[0]:
            sentences.append(extra)
    if len(sentences) < 3 and rng.random() < 0.35:
        ctx = cap_first(fill(rng.choice(CONTEXT), rng))
        sentences.insert(0 if rng.random() < 0.6 else len(sentences), ctx)
    if len(sentences) < 3 and rng.random() < 0.3:
        pool = CLOSERS_SHARED + tuple(c for label in labels for c in CLOSERS[label])
        sentences.append(rng.choice(pool))
    text = " ".join(sentences)
    if rng.random() < 0.3:
        pool = OPENERS_SHARED + tuple(o for label in labels for o in OPENERS[label])
        text = join_opener(rng.choice(pool), text)
    return text


def words(text: str) -> set[str]:
    return set(_WORD_RE.findall(text.lower()))


def near_duplicate(ws: set[str], seen: list[set[str]]) -> bool:
    return any(len(ws & other) / len(ws | other) > MAX_JACCARD for other in seen)


def split_plan() -> dict[str, list[tuple[str, ...]]]:
    """Exact per-split lists of label combinations (stratified by combination)."""
    plan: dict[str, list[tuple[str, ...]]] = {split: [] for split in SPLITS}
    for combo, count in COMBOS:
        n_dev = round(count * DEV_FRACTION)
        n_test = round(count * TEST_FRACTION)
        plan["dev"] += [combo] * n_dev
        plan["test"] += [combo] * n_test
        plan["train"] += [combo] * (count - n_dev - n_test)
    return plan


def generate(seed: int = SEED) -> dict[str, list[Row]]:
    rng = random.Random(seed)
    seen_texts: set[str] = set()
    seen_words: list[set[str]] = []
    out: dict[str, list[Row]] = {}
    for split, combos in split_plan().items():
        rng.shuffle(combos)
        rows: list[Row] = []
        for combo in combos:
            for _attempt in range(500):
                text = compose(combo, rng)
                n_words = len(text.split())
                ws = words(text)
                fresh = text not in seen_texts and not near_duplicate(ws, seen_words)
                if MIN_WORDS <= n_words <= MAX_WORDS and fresh:
                    break
            else:
                raise RuntimeError(f"could not compose a fresh text for {combo}")
            seen_texts.add(text)
            seen_words.append(ws)
            ordered = [label for label in LABELS if label in combo]
            rows.append({"text": text, "labels": ordered})
        out[split] = rows
    return out


def write_jsonl(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    data = generate()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    splits_meta: dict[str, dict[str, object]] = {}
    for split, rows in data.items():
        write_jsonl(OUT_DIR / f"{split}.jsonl", rows)
        counts = {label: sum(label in row["labels"] for row in rows) for label in LABELS}
        splits_meta[split] = {"rows": len(rows), "label_counts": counts}
    meta = {
        "task": "multi-label",
        "labels": list(LABELS),
        "source": (
            f"Synthetic: written for mindscreen by template composition "
            f"(scripts/make_demo_data.py, seed {SEED}); Apache-2.0"
        ),
        "synthetic": True,
        "note": (
            "Not real people's words. For the quickstart and smoke tests only; "
            "not for evaluating clinical use. neutral never co-occurs with another label."
        ),
        "splits": splits_meta,
    }
    with (OUT_DIR / "dataset.json").open("w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    sizes = ", ".join(f"{split}={len(rows)}" for split, rows in data.items())
    print(f"wrote {OUT_DIR.relative_to(OUT_DIR.parents[2])} ({sizes})")


if __name__ == "__main__":
    main()
