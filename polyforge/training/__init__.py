"""Training: dataset builders and trainers (TRL) that turn accepted pairs into a model."""
