import type { ProfilePrefetchPart } from '../profiles';
import { timestamptz } from '../profiles';
import { compile, currentStage, DEFAULT_MODEL, type StageModel } from './stage.model';

export const PROFILE_STAGE_LOADER = 'profile.stage';

interface JsonStage {
  model: StageModel | null;
  state: { model_key: string; stage: string; main_stage: string | null; entered_at: string; previous_stage: string | null } | null;
}

/**
 * `Profile.stage` read with the profile: the workspace's model (or none: the default) and the
 * stored state, which counts only under the current model's key (as the loader answers).
 */
const stagePart: ProfilePrefetchPart = {
  field: 'stage',
  select: () => `(SELECT json_build_object('model', (SELECT m.definition FROM stage_models m WHERE m.workspace_id = p.workspace_id),
      'state', (SELECT json_build_object('model_key', ps.model_key, 'stage', ps.stage, 'main_stage', ps.main_stage, 'entered_at', ps.entered_at::text,
        'previous_stage', ps.previous_stage) FROM profile_stages ps WHERE ps.workspace_id = p.workspace_id AND ps.profile_id = p.id)))`,
  prime: (loaders, id, value) => {
    const { model, state: s } = value as JsonStage;
    const m = compile(model ?? DEFAULT_MODEL);
    const state =
      s && s.model_key === m.model.key ? { stage: s.stage, mainStage: s.main_stage, enteredAt: timestamptz(s.entered_at), previousStage: s.previous_stage } : null;
    loaders.prime(PROFILE_STAGE_LOADER, id, currentStage(m, state));
  },
};

/** The stages module's part of a profile read (the stages projection's prefetch phase). */
export const STAGE_PROFILE_PREFETCH: ProfilePrefetchPart[] = [stagePart];
