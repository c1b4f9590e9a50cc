"""The tiny config the model-with-head tests share: two groups of two inner layers, so that every
path of the layer sharing runs, and 12 positions."""

TWO_GROUPS = {
    "vocab_size": 40,
    "embedding_size": 8,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_hidden_groups": 2,
    "num_attention_heads": 4,
    "intermediate_size": 24,
    "inner_group_num": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 12,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
}
