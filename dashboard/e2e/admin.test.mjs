// Admin flows: filled in as the admin API lands.
import { test } from './harness.mjs';
