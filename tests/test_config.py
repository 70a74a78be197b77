import pytest

from edge_ocr.config import PipelineParams


def test_defaults_are_paddleocr_ppocrv2():
    p = PipelineParams()
    assert (p.det.limit_side_len, p.det.limit_type) == (960, "max")
    assert (p.det.thresh, p.det.box_thresh, p.det.unclip_ratio, p.det.max_candidates) == (0.3, 0.6, 1.5, 1000)
    assert p.det.score_mode == "fast" and p.det.min_size == 3
    assert p.cls.image_shape == (3, 48, 192) and p.cls.thresh == 0.9
    assert p.rec.image_shape == (3, 32, 320) and p.rec.batch_size == 6 and p.rec.drop_score == 0.5
    assert p.crop.rotate_ratio == 1.5


def test_round_trip_through_dict():
    import json

    p = PipelineParams()
    # one non-default value in every section and at the top level: a section dropped on the way would come back
    # as its defaults and fail the comparison
    p.det.box_thresh, p.det.limit_type, p.det.score_mode = 0.55, "resize_long", "slow"
    p.crop.rotate_ratio = 2.5
    p.cls.thresh, p.cls.batch_size = 0.8, 3
    p.rec.drop_score, p.rec.image_shape = 0.3, (3, 32, 256)
    p.use_cls, p.max_image_pixels = False, 10_000_000
    q = PipelineParams.from_dict(json.loads(json.dumps(p.to_dict())))
    assert q == p and q != PipelineParams()
    assert q.rec.image_shape == (3, 32, 256)  # tuples come back as tuples, not JSON lists


def test_unknown_keys_are_errors():
    data = PipelineParams().to_dict()
    data["det"]["boxthresh"] = 0.1
    with pytest.raises(ValueError, match="boxthresh"):
        PipelineParams.from_dict(data)
    with pytest.raises(ValueError, match="nonsense"):
        PipelineParams.from_dict({"nonsense": 1})
