import type { ProfilePrefetchPart } from '../profiles';
import { timestamptz } from '../profiles';
import type { ProfileHealthRow } from './health.repository';
import { toRead } from './health.service';

export const PROFILE_HEALTH_LOADER = 'profile.health';

type JsonHealth = Omit<ProfileHealthRow, 'computed_at'> & { computed_at: string };

/** `Profile.health` read with the profile (null until first computed, as the loader answers). */
const healthPart: ProfilePrefetchPart = {
  field: 'health',
  select: () => `(SELECT json_build_object('profile_id', h.profile_id, 'score', h.score::text, 'tier', h.tier, 'components', h.components,
      'computed_at', h.computed_at::text) FROM profile_health h WHERE h.workspace_id = p.workspace_id AND h.profile_id = p.id)`,
  prime: (loaders, id, value) => {
    const h = value as JsonHealth | null;
    loaders.prime(PROFILE_HEALTH_LOADER, id, h ? toRead({ ...h, computed_at: timestamptz(h.computed_at) }) : null);
  },
};

/** The health module's part of a profile read (registered in src/services.ts). */
export const HEALTH_PROFILE_PREFETCH: ProfilePrefetchPart[] = [healthPart];
