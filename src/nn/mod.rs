//! Neural-network layers, initialization, optimizers, schedules and saves.
