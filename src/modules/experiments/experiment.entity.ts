import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { VariantDef } from './experiment.definition';

/** An experiment definition (table `experiments`): TypeORM only; the GraphQL type is `Experiment`. */
@Entity({ name: 'experiments' })
export class ExperimentEntity {
  @PrimaryColumn({ name: 'workspace_id', type: 'uuid' })
  workspaceId: string;

  @PrimaryColumn({ type: 'text' })
  key: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'jsonb' })
  variants: VariantDef[];

  @Column({ name: 'rollout_percent', type: 'integer' })
  rolloutPercent: number;

  @Column({ name: 'click_event', type: 'text', nullable: true })
  clickEvent: string | null;

  @Column({ name: 'conversion_event', type: 'text' })
  conversionEvent: string;

  @Column({ name: 'conversion_window_days', type: 'integer' })
  conversionWindowDays: number;

  @Column({ name: 'auto_created', type: 'boolean' })
  autoCreated: boolean;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
