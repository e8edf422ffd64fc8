"""Model backends behind one small interface (`ferry.models.backend`)."""
