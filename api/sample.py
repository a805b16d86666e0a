"""`collab sample-course`: a small course that really plays on a fresh install.

Three modules (the last for premium accounts only), lessons with chapters, and for every lesson
a short generated video under ``{COLLAB_DATA_DIR}/streams``, served by the local stand-in for
Mux (``api/localstream.py``). Without Mux keys in the environment a development signing key is
made once and kept in ``{COLLAB_DATA_DIR}/mux-dev-key.json`` (never in production). Loading
again changes nothing: modules are matched by title.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from api.localstream import dev_key_file
from api.playback import generate_dev_key
from api.settings import Settings
from media.samplevideo import write_hls
from storage.db import connect
from storage.lessons import LessonRepository
from storage.models import Difficulty, Tier
from storage.modules import ModuleRepository

__all__ = [
    "SAMPLE_MODULES",
    "SampleReport",
    "dev_key_file",
    "load_sample_course",
    "sample_videos",
]


def _exercise(title: str, prompt: str) -> dict[str, str]:
    return {"title": title, "prompt": prompt}


# (title, description, difficulty, tier, content, lessons: (title, seconds, sub-lessons)); a
# sub-lesson is (title, start) for a chapter of the lesson's video, or (title, start, seconds)
# for a part with a video of its own (its own playback id, token and progress)
SAMPLE_MODULES: list[dict[str, Any]] = [
    {
        "title": "Getting started with shared notes",
        "description": "Take notes together during a workshop, online or off.",
        "difficulty": Difficulty.BEGINNER,
        "tier": Tier.FREE,
        "content": {
            "objectives": ["Create and share a note", "Edit together", "Keep working offline"],
            "materials": ["A laptop or phone with a browser"],
            "exercises": [_exercise("Share a note", "Share a note with a neighbour and edit it.")],
        },
        "lessons": [
            ("Welcome", 20, []),
            ("Your first shared note", 24, [("Creating", 0), ("Sharing", 12)]),
            ("Working offline", 18, []),
        ],
    },
    {
        "title": "Running a live workshop",
        "description": "Polls, questions and raised hands with a room of attendees.",
        "difficulty": Difficulty.INTERMEDIATE,
        "tier": Tier.FREE,
        "content": {
            "objectives": ["Plan a session", "Use polls and Q&A"],
            "materials": ["A session scheduled in the app"],
            "exercises": [_exercise("Run a poll", "Ask the room one question with a poll.")],
        },
        "lessons": [
            ("Before the session", 16, []),
            ("During the session", 22, [("Polls", 0, 12), ("Questions", 12, 10)]),
        ],
    },
    {
        "title": "Advanced facilitation",
        "description": "Techniques for large rooms. For premium members.",
        "difficulty": Difficulty.ADVANCED,
        "tier": Tier.PREMIUM,
        "content": {
            "objectives": ["Facilitate a room of 200"],
            "materials": [],
            "exercises": [_exercise("Break-outs", "Plan three break-out rounds.")],
        },
        "lessons": [("Large rooms", 20, [])],
    },
]


@dataclass
class SampleReport:
    modules_created: int = 0
    lessons_created: int = 0
    videos_written: list[str] = field(default_factory=list)
    dev_key_created: bool = False


def ensure_dev_key(settings: Settings) -> bool:
    """Make the development signing key unless Mux keys are configured or one exists."""
    path = dev_key_file(settings)
    if settings.mux_signing_key_id or settings.production or path.exists():
        return False
    key = generate_dev_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"keyId": key.key_id, "privateKey": key.private_key_b64}))
    path.chmod(0o600)
    return True


def _playback_id(module_index: int, lesson_index: int, part: int | None = None) -> str:
    lesson = f"sample-m{module_index + 1}-l{lesson_index + 1}"
    return lesson if part is None else f"{lesson}-p{part + 1}"


def sample_videos(m_index: int) -> list[tuple[str, int, str]]:
    """(playback id, seconds, label) of every video of the sample module at ``m_index``."""
    spec = SAMPLE_MODULES[m_index]
    found: list[tuple[str, int, str]] = []
    for l_index, (title, seconds, subs) in enumerate(spec["lessons"]):
        found.append((_playback_id(m_index, l_index), seconds, f"{spec['title']}: {title}"))
        for s_index, sub in enumerate(subs):
            if len(sub) == 3:
                label = f"{title}: {sub[0]}"
                found.append((_playback_id(m_index, l_index, s_index), sub[2], label))
    return found


async def load_sample_course(settings: Settings) -> SampleReport:
    report = SampleReport(dev_key_created=ensure_dev_key(settings))
    streams = settings.data_dir / "streams"
    async with connect(settings.effective_database_url) as db:
        modules, lessons = ModuleRepository(db), LessonRepository(db)
        page, _ = await modules.search(None, limit=1000)
        existing = {module.title for module in page}
        for m_index, spec in enumerate(SAMPLE_MODULES):
            for playback_id, seconds, label in sample_videos(m_index):
                if not (streams / playback_id / "index.m3u8").exists():
                    write_hls(streams / playback_id, seconds, label=label, hue=0.15 + 0.3 * m_index)
                    report.videos_written.append(playback_id)
            if spec["title"] in existing:
                continue
            module = await modules.create(
                title=spec["title"],
                description=spec["description"],
                order_index=m_index,
                difficulty=spec["difficulty"],
                duration_minutes=1,
                required_tier=spec["tier"],
                content=spec["content"],
            )
            report.modules_created += 1
            for l_index, (title, seconds, chapters) in enumerate(spec["lessons"]):
                lesson = await lessons.add_lesson(
                    module.id,
                    title=title,
                    order=l_index,
                    mux_playback_id=_playback_id(m_index, l_index),
                    duration_seconds=seconds,
                    description=f"Lesson {l_index + 1} of {spec['title']}.",
                )
                assert lesson is not None
                report.lessons_created += 1
                for c_index, sub in enumerate(chapters):
                    own = len(sub) == 3  # a part with its own video, or a chapter
                    await lessons.add_sub_lesson(
                        lesson.id,
                        title=sub[0],
                        order=c_index,
                        start_time_seconds=sub[1],
                        mux_playback_id=_playback_id(m_index, l_index, c_index) if own else None,
                        duration_seconds=sub[2] if own else 0,
                    )
    return report
