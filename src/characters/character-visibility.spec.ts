import { ANONYMOUS, Viewer, visibilityClass } from '../auth/viewer';
import { canViewCharacter, VisibilityFacts } from './character-visibility';

const viewer = (v: Partial<Viewer>): Viewer => ({ ...ANONYMOUS, userId: 'u1', role: 'user', ...v });
const character = (c: Partial<VisibilityFacts>): VisibilityFacts => ({
  ownerId: 'owner',
  visibility: 'public',
  nsfw: false,
  premium: false,
  ...c,
});

describe('canViewCharacter', () => {
  it('hides private characters from everyone but the owner and admins', () => {
    const c = character({ visibility: 'private' });
    expect(canViewCharacter(c, ANONYMOUS)).toBe(false);
    expect(canViewCharacter(c, viewer({ tier: 'pro', showNsfw: true }))).toBe(false);
    expect(canViewCharacter(c, viewer({ userId: 'owner' }))).toBe(true);
    expect(canViewCharacter(c, viewer({ role: 'admin' }))).toBe(true);
  });

  it('opens unlisted characters by id', () => {
    expect(canViewCharacter(character({ visibility: 'unlisted' }), ANONYMOUS)).toBe(true);
  });

  it('shows nsfw only to viewers who allow it, premium only to plus and pro', () => {
    expect(canViewCharacter(character({ nsfw: true }), viewer({}))).toBe(false);
    expect(canViewCharacter(character({ nsfw: true }), viewer({ showNsfw: true }))).toBe(true);
    expect(canViewCharacter(character({ premium: true }), viewer({}))).toBe(false);
    expect(canViewCharacter(character({ premium: true }), viewer({ tier: 'plus' }))).toBe(true);
    expect(canViewCharacter(character({ premium: true, nsfw: true }), viewer({ tier: 'pro' }))).toBe(false);
  });
});

describe('visibilityClass', () => {
  it('puts anonymous and free sfw viewers in one class, and separates what changes a list', () => {
    expect(visibilityClass(ANONYMOUS)).toBe(visibilityClass(viewer({})));
    const classes = new Set([
      visibilityClass(viewer({})),
      visibilityClass(viewer({ showNsfw: true })),
      visibilityClass(viewer({ tier: 'plus' })),
      visibilityClass(viewer({ tier: 'pro', showNsfw: true })),
    ]);
    expect(classes.size).toBe(4);
    expect(visibilityClass(viewer({ tier: 'plus' }))).toBe(visibilityClass(viewer({ tier: 'pro' })));
  });
});
