from jobqueue.jobs.retry import BackoffPolicy


def test_delay_grows_exponentially_within_jitter_bounds() -> None:
    policy = BackoffPolicy(base_delay=1, max_delay=100)
    for failed_try, ceiling in [(1, 1), (2, 2), (3, 4), (5, 16)]:
        delays = [policy.delay(failed_try) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


def test_delay_is_capped() -> None:
    policy = BackoffPolicy(base_delay=1, max_delay=10)
    assert all(policy.delay(30) <= 10 for _ in range(50))


def test_retry_after_is_a_lower_bound_but_still_capped() -> None:
    policy = BackoffPolicy(base_delay=0.1, max_delay=10)
    assert policy.delay(1, retry_after=3) == 3
    assert policy.delay(1, retry_after=60) == 10
