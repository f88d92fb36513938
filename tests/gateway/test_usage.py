import pytest
from openai.types import CompletionUsage

from ethergate.gateway.providers.usage import Usage, normalize_usage
from tests.fakes import formats


def test_to_openai_is_exactly_openais_shape_and_the_sdk_accepts_it():
    usage = Usage(100, 40, cached_tokens=64, reasoning_tokens=30)
    assert usage.to_openai() == {
        "prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    parsed = CompletionUsage.model_validate(usage.to_openai())
    assert parsed.prompt_tokens_details.cached_tokens == 64
    assert parsed.completion_tokens_details.reasoning_tokens == 30
    assert usage.total_tokens == 140 and usage.uncached_prompt_tokens == 36


def test_deepseek_cache_hit_and_miss_with_reasoning():
    raw = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
           "prompt_tokens_details": {"cached_tokens": 1024},
           "prompt_cache_hit_tokens": 1024, "prompt_cache_miss_tokens": 176,
           "completion_tokens_details": {"reasoning_tokens": 220}}
    assert normalize_usage("deepseek", raw) == Usage(1200, 300, 1024, 220)


def test_deepseek_without_prompt_tokens_adds_hit_and_miss():
    raw = {"completion_tokens": 10, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36}
    assert normalize_usage("deepseek", raw) == Usage(100, 10, 64, 0)


def test_deepseek_older_shape_with_only_hit_and_miss_fields():
    raw = {"prompt_tokens": 16, "completion_tokens": 10, "total_tokens": 26,
           "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 16}
    assert normalize_usage("deepseek", raw) == Usage(16, 10, 0, 0)


def test_qwen_cached_tokens_and_reasoning():
    raw = {"prompt_tokens": 3019, "completion_tokens": 104, "total_tokens": 3123,
           "prompt_tokens_details": {"cached_tokens": 2048},
           "completion_tokens_details": {"reasoning_tokens": 80}}
    assert normalize_usage("qwen", raw) == Usage(3019, 104, 2048, 80)


def test_qwen_explicit_cache_creation_extras_are_ignored():
    raw = {"prompt_tokens": 1600, "completion_tokens": 20, "total_tokens": 1620,
           "prompt_tokens_details": {"cached_tokens": 0, "cache_creation_input_tokens": 1500,
                                     "cache_creation": {"ephemeral_5m_input_tokens": 1500},
                                     "cache_type": "ephemeral"}}
    assert normalize_usage("qwen", raw) == Usage(1600, 20, 0, 0)


def test_moonshot_top_level_cached_tokens():
    raw = {"prompt_tokens": 1336, "completion_tokens": 31, "total_tokens": 1367, "cached_tokens": 1280}
    assert normalize_usage("moonshot", raw) == Usage(1336, 31, 1280, 0)


def test_moonshot_newer_shape_with_both_fields():
    raw = {"prompt_tokens": 1336, "completion_tokens": 31, "total_tokens": 1367, "cached_tokens": 1280,
           "prompt_tokens_details": {"cached_tokens": 1280}}
    assert normalize_usage("moonshot", raw) == Usage(1336, 31, 1280, 0)


def test_cached_tokens_beside_usage_in_the_container():
    choice = {"index": 0, "delta": {}, "finish_reason": "stop", "cached_tokens": 512,
              "usage": {"prompt_tokens": 600, "completion_tokens": 5, "total_tokens": 605}}
    assert normalize_usage("moonshot", choice["usage"], choice) == Usage(600, 5, 512, 0)


def test_openai_standard_fields_win_over_provider_ones():
    raw = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 40},
           "prompt_cache_hit_tokens": 30, "cached_tokens": 20}
    assert normalize_usage("deepseek", raw).cached_tokens == 40


@pytest.mark.parametrize("provider", formats.PROVIDERS)
def test_every_fake_upstream_shape(provider):
    raw = formats.usage_payload(provider, 90, 30, cached=50, reasoning=12)
    expected_reasoning = 0 if provider == "moonshot" else 12
    assert normalize_usage(provider, raw) == Usage(90, 30, 50, expected_reasoning)


def test_reasoning_is_part_of_completion_never_added_again():
    usage = normalize_usage("deepseek", {"prompt_tokens": 10, "completion_tokens": 50,
                                         "completion_tokens_details": {"reasoning_tokens": 45}})
    assert usage.completion_tokens == 50 and usage.total_tokens == 60


def test_inconsistent_numbers_are_clamped():
    raw = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 99},
           "completion_tokens_details": {"reasoning_tokens": 77}}
    assert normalize_usage("qwen", raw) == Usage(10, 5, 10, 5)
    assert normalize_usage("qwen", {"prompt_tokens": -4, "completion_tokens": -1}) == Usage(0, 0, 0, 0)


def test_missing_completion_is_derived_from_total():
    assert normalize_usage("qwen", {"prompt_tokens": 10, "total_tokens": 25}) == Usage(10, 15)


def test_no_usage_means_none():
    assert normalize_usage("qwen", None) is None
    assert normalize_usage("qwen", {}) is None
    assert normalize_usage("moonshot", "oops") is None
    assert normalize_usage("deepseek", {"prompt_tokens_details": {"cached_tokens": 3}}) is None


def test_junk_values_are_ignored():
    raw = {"prompt_tokens": "12", "completion_tokens": 3.0, "prompt_tokens_details": {"cached_tokens": True},
           "completion_tokens_details": None}
    assert normalize_usage("qwen", raw) == Usage(12, 3, 0, 0)
