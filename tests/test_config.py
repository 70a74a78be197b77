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
    p = PipelineParams()
    p.det.box_thresh = 0.55
    p.rec.drop_score = 0.3
    q = PipelineParams.from_dict(p.to_dict())
    assert q == p


def test_unknown_keys_are_errors():
    data = PipelineParams().to_dict()
    data["det"]["boxthresh"] = 0.1
    with pytest.raises(ValueError, match="boxthresh"):
        PipelineParams.from_dict(data)
    with pytest.raises(ValueError, match="nonsense"):
        PipelineParams.from_dict({"nonsense": 1})
