# Videos (CLIP normalisation, NCTHW) and token ids for the retrieval models.
retrieval_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    preprocessors=dict(
        imgs=dict(type='ActionDataPreprocessor', mean=[122.771, 116.746, 104.093],
                  std=[68.500, 66.632, 70.323], format_shape='NCTHW'),
        text=dict(type='ActionDataPreprocessor', to_float32=False)))
