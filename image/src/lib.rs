//! Host side of Hatchery's boot images.
