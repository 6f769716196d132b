/**
 * A generation job's cached record (`images:generation:{jobId}`): evicted when its status changes and when the
 * job is deleted with its character.
 */
export const generationTag = (jobId: string): string => `generation:${jobId}`;
