"""Open-vocabulary detectors via transformers: ``owlv2`` and ``grounding-dino``.

Both take free-text queries (default: common indoor objects), apply a score threshold, per-label NMS in
numpy and a cap on the number of detections. Models load from a local directory or a hub id, or wrap
in-memory models with ``from_model(model, processor)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.perception._common import (
    InMemoryModel,
    check_fraction,
    load_pretrained,
    resolve_source,
    to_pil,
    torch_device,
)
from spatialvlm_core.perception.boxes import batched_nms, clip_boxes, cxcywh_to_xyxy
from spatialvlm_core.perception.labels import DEFAULT_INDOOR_QUERIES
from spatialvlm_core.perception.registry import DETECTORS
from spatialvlm_core.types import Detection, Detections, Frame


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


class HFOpenVocabDetector(InMemoryModel):
    name = "hf-detector"
    default_model = ""
    model_class = ""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        score_threshold: float = 0.2,
        nms_iou: float = 0.5,
        max_detections: int = 50,
        default_queries: list[str] | None = None,
        device: str = "cpu",
    ) -> None:
        import transformers

        source = resolve_source(model or self.default_model, f"{self.name} detector")
        net = load_pretrained(getattr(transformers, self.model_class), source, f"{self.name} detector")
        processor = load_pretrained(transformers.AutoProcessor, source, f"{self.name} processor")
        self._setup(net, processor, score_threshold=score_threshold, nms_iou=nms_iou,
                    max_detections=max_detections, default_queries=default_queries, device=device)


    def _setup(
        self,
        model: Any,
        processor: Any,
        *,
        score_threshold: float = 0.2,
        nms_iou: float = 0.5,
        max_detections: int = 50,
        default_queries: list[str] | None = None,
        device: str = "cpu",
    ) -> None:
        self.score_threshold = check_fraction(score_threshold, "score_threshold")
        self.nms_iou = check_fraction(nms_iou, "nms_iou")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        self.max_detections = max_detections
        self.default_queries = list(default_queries or DEFAULT_INDOOR_QUERIES)
        self.device = torch_device(device)
        self.model = model.to(self.device).eval()
        self.processor = processor

    def detect(self, frame: Frame, queries: list[str] | None = None) -> Detections:
        qs = [q.strip() for q in (queries if queries is not None else self.default_queries) if q.strip()]
        h, w = frame.rgb.shape[:2]
        if not qs:
            raise ValueError("queries must contain at least one non-empty string")
        boxes, scores, qidx = self._raw(frame, qs)
        keep = scores >= self.score_threshold
        boxes, scores, qidx = clip_boxes(boxes[keep], w, h), scores[keep], qidx[keep]
        order = batched_nms(boxes, scores, qidx, self.nms_iou)[: self.max_detections]
        items = [
            Detection(label=qs[qidx[i]], score=float(np.clip(scores[i], 0, 1)),
                      box_xyxy=tuple(float(v) for v in boxes[i]), query=qs[qidx[i]])
            for i in order
        ]
        return Detections(image_id=frame.image_id, width=w, height=h, items=items, backend=self.name)

    def _raw(self, frame: Frame, queries: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xyxy boxes in frame pixels, scores, query index) for every predicted box."""
        raise NotImplementedError

    def _forward(self, **inputs: Any) -> Any:
        import torch

        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        with torch.inference_mode():
            return self.model(**inputs)


@DETECTORS.register("owlv2", "owl-v2")
class Owlv2Detector(HFOpenVocabDetector):
    name = "owlv2"
    default_model = "google/owlv2-base-patch16-ensemble"
    model_class = "Owlv2ForObjectDetection"
    prompt = "a photo of a {}"

    def _raw(self, frame: Frame, queries: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = frame.rgb.shape[:2]
        texts = [[self.prompt.format(q) for q in queries]]
        inputs = self.processor(text=texts, images=to_pil(frame.rgb), return_tensors="pt")
        out = self._forward(**inputs)
        probs = _sigmoid(out.logits[0].float().cpu().numpy())  # [patches, queries]
        qidx = probs.argmax(axis=1)
        scores = probs[np.arange(len(qidx)), qidx]
        # OWLv2 pads the image to a square (bottom/right) before resizing: boxes are relative to that square.
        side = float(max(h, w))
        boxes = cxcywh_to_xyxy(out.pred_boxes[0].float().cpu().numpy()) * side
        return boxes, scores, qidx


@DETECTORS.register("grounding-dino", "groundingdino")
class GroundingDinoDetector(HFOpenVocabDetector):
    name = "grounding-dino"
    default_model = "IDEA-Research/grounding-dino-tiny"
    model_class = "GroundingDinoForObjectDetection"

    def _raw(self, frame: Frame, queries: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = frame.rgb.shape[:2]
        # Grounding DINO expects lower-case phrases separated by " . " and a final ".".
        text = " . ".join(q.lower() for q in queries) + " ."
        inputs = self.processor(text=text, images=to_pil(frame.rgb), return_tensors="pt")
        out = self._forward(**inputs)
        ids = inputs["input_ids"][0].tolist()
        spans = self._phrase_spans(ids, len(queries))
        probs = _sigmoid(out.logits[0].float().cpu().numpy())  # [queries_of_model, text_tokens]
        per_query = np.stack([probs[:, s].max(axis=1) if len(s) else np.zeros(len(probs)) for s in spans], axis=1)
        qidx = per_query.argmax(axis=1)
        scores = per_query[np.arange(len(qidx)), qidx]
        boxes = cxcywh_to_xyxy(out.pred_boxes[0].float().cpu().numpy()) * np.array([w, h, w, h], dtype=np.float64)
        return boxes, scores, qidx

    def _phrase_spans(self, ids: list[int], n: int) -> list[list[int]]:
        """Token positions of each query phrase: the runs between '.' separators, special tokens excluded."""
        tok = self.processor.tokenizer
        dot = tok.convert_tokens_to_ids(".")
        special = set(getattr(tok, "all_special_ids", []))
        spans: list[list[int]] = [[]]
        for pos, t in enumerate(ids):
            if t == dot:
                spans.append([])
            elif t not in special:
                spans[-1].append(pos)
        spans = [s for s in spans if s]
        if len(spans) != n:
            raise ValueError(f"could not align {n} queries with the tokenised prompt ({len(spans)} phrases found)")
        return spans
