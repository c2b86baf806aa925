import pytest

from lerobot_notebook_pipeline.episodes import exclude_episodes, parse_episode_spec, split_episodes
from lerobot_notebook_pipeline.runtime import UserError


@pytest.mark.parametrize(
    "spec, expected",
    [("3", [3]), ("0,3,7", [0, 3, 7]), ("0:5", [0, 1, 2, 3, 4]), ("all", list(range(10))), (":2", [0, 1]), (4, [4])],
)
def test_parse_episode_spec(spec, expected):
    assert parse_episode_spec(spec, 10) == expected


@pytest.mark.parametrize("spec, fragment", [("12", "does not exist"), ("a,b", "cannot read"), ("3:3", "selects no"), ("0:11", "ends past")])
def test_parse_episode_spec_errors_name_the_problem(spec, fragment):
    with pytest.raises(UserError, match=fragment):
        parse_episode_spec(spec, 10)


def test_split_is_seeded_disjoint_and_complete():
    eps = list(range(20))
    train, val = split_episodes(eps, 0.2, seed=1)
    assert len(val) == 4 and len(train) == 16
    assert not set(train) & set(val) and sorted(train + val) == eps
    assert split_episodes(eps, 0.2, seed=1) == (train, val)
    assert split_episodes(eps, 0.2, seed=2) != (train, val)


def test_split_keeps_one_episode_for_training_and_errors_on_one():
    assert split_episodes([0, 1], 0.9, seed=0)[0] and len(split_episodes([0, 1], 0.9)[1]) == 1
    assert split_episodes([5], 0.0) == ([5], [])
    with pytest.raises(UserError, match="at least 2 episodes"):
        split_episodes([5], 0.5)


def test_exclude_episodes():
    assert exclude_episodes([0, 1, 2, 3], [1, 3]) == [0, 2]
    with pytest.raises(UserError, match="disjoint"):
        exclude_episodes([1], [1])
