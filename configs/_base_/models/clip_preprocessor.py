# CLIP's pixel normalisation (0-255 scale) for NCTHW video batches.
clip_preprocessor = dict(
    type='ActionDataPreprocessor',
    mean=[122.771, 116.746, 104.093],
    std=[68.500, 66.632, 70.323],
    format_shape='NCTHW')
