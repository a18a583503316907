# CLIP's pixel normalisation (0-255 scale) for NCTHW video batches, for recognizers
# (`clip_preprocessor`) and video-text retrievers (`retrieval_preprocessor`: videos + ids).
clip_mean = [122.771, 116.746, 104.093]
clip_std = [68.500, 66.632, 70.323]
clip_preprocessor = dict(
    type='ActionDataPreprocessor', mean=clip_mean, std=clip_std, format_shape='NCTHW')
retrieval_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    preprocessors=dict(imgs=clip_preprocessor,
                       text=dict(type='ActionDataPreprocessor', to_float32=False)))
