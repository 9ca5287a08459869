from liaison_common.tokens import TOKEN_PREFIX, hash_token, new_token


def test_new_tokens_are_random_prefixed_and_long():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith(TOKEN_PREFIX) and len(t) >= 40 for t in tokens)


def test_only_a_hash_is_stored_and_it_is_stable():
    token = new_token()
    assert hash_token(token) == hash_token(token)
    assert token not in hash_token(token)
    assert hash_token(token) != hash_token(token + "x")
