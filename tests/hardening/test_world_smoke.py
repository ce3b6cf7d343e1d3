from tests.hardening.world import build_world
from tests.helpers import ApiClient


async def test_world_builds(client: ApiClient) -> None:
    world = await build_world(client)
    assert len(world.ids) >= 15
