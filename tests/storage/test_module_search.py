from __future__ import annotations

import pytest

from storage.db import Database
from storage.models import Difficulty, Module
from storage.modules import ModuleRepository


async def _seed(repo: ModuleRepository) -> dict[str, Module]:
    fade = await repo.create(
        title="Fade techniques",
        description="Blending with clippers",
        order_index=2,
        content={"objectives": ["Master the skin fade"], "exercises": [{"title": "Line up drill"}]},
    )
    business = await repo.create(
        title="Business basics",
        description="Pricing your services",
        order_index=1,
        content={"objectives": ["Learn about fade pricing"], "materials": ["spreadsheet"]},
    )
    marketing = await repo.create(
        title="Marketing",
        description="Social media for barbers",
        order_index=3,
        difficulty=Difficulty.ADVANCED,
    )
    return {"fade": fade, "business": business, "marketing": marketing}


async def test_title_matches_rank_above_content_matches(database: Database) -> None:
    repo = ModuleRepository(database)
    seeded = await _seed(repo)
    found, total = await repo.search("fade")
    assert total == 2
    assert [m.id for m in found] == [seeded["fade"].id, seeded["business"].id]


async def test_every_word_must_match_and_stemming_applies(database: Database) -> None:
    repo = ModuleRepository(database)
    seeded = await _seed(repo)
    found, total = await repo.search("Fades PRICING")
    assert (total, [m.id for m in found]) == (1, [seeded["business"].id])
    found, total = await repo.search("drills")
    assert (total, [m.id for m in found]) == (1, [seeded["fade"].id])
    assert await repo.search("nonexistentword") == ([], 0)


@pytest.mark.parametrize("query", ['fade" (', "fade*:&|!", "(fade", "'fade'", "-fade", "fade)"])
async def test_query_syntax_is_never_passed_through(database: Database, query: str) -> None:
    repo = ModuleRepository(database)
    await _seed(repo)
    found, total = await repo.search(query)
    assert total == 2 and len(found) == 2


async def test_no_query_lists_in_course_order_with_filter_and_paging(database: Database) -> None:
    repo = ModuleRepository(database)
    seeded = await _seed(repo)
    found, total = await repo.search()
    assert total == 3
    assert [m.id for m in found] == [seeded[k].id for k in ("business", "fade", "marketing")]
    found, total = await repo.search(difficulty=Difficulty.ADVANCED)
    assert (total, [m.id for m in found]) == (1, [seeded["marketing"].id])
    found, total = await repo.search("fade", limit=1, offset=1)
    assert (total, [m.id for m in found]) == (2, [seeded["business"].id])
    found, total = await repo.search("fade", difficulty=Difficulty.ADVANCED)
    assert (found, total) == ([], 0)


async def test_index_follows_updates_and_deletes(database: Database) -> None:
    repo = ModuleRepository(database)
    seeded = await _seed(repo)
    await repo.update(seeded["marketing"].id, {"title": "Marketing your fade business"})
    found, total = await repo.search("fade")
    assert total == 3 and found[-1].id != seeded["fade"].id
    await repo.update(seeded["fade"].id, {"content": {"objectives": ["scissor work"]}})
    assert [m.title for m in (await repo.search("scissor"))[0]] == ["Fade techniques"]
    assert await repo.delete(seeded["fade"].id) is True
    found, total = await repo.search("fade")
    assert total == 2 and seeded["fade"].id not in {m.id for m in found}


async def test_update_rejects_unknown_fields(database: Database) -> None:
    repo = ModuleRepository(database)
    seeded = await _seed(repo)
    with pytest.raises(ValueError, match="id"):
        await repo.update(seeded["fade"].id, {"id": "x"})
    updated = await repo.update(seeded["fade"].id, {"is_locked": True, "duration_minutes": 45})
    assert updated is not None and updated.is_locked and updated.duration_minutes == 45
    reloaded = await repo.get(seeded["fade"].id)
    assert reloaded is not None and reloaded.is_locked


async def test_stop_words_only_query_does_not_fail(database: Database) -> None:
    repo = ModuleRepository(database)
    await _seed(repo)
    found, total = await repo.search("the")
    assert total == len(found) and total <= 3
