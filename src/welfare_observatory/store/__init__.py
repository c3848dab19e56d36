"""The knowledge base: editions as Parquet with a manifest, lineage, findings and analyses."""

from welfare_observatory.store.knowledge_base import EditionInfo, KnowledgeBase

__all__ = ["EditionInfo", "KnowledgeBase"]
