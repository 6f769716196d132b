export const NAME_SYLLABLES = [
  'ka', 'ri', 'to', 'mel', 'an', 'sol', 'vex', 'lyn', 'dra', 'mor', 'el', 'is', 'zar', 'quin', 'bel', 'thor', 'na',
  'sha', 'ro', 'ven', 'kai', 'lu', 'mir', 'ash', 'fen', 'ga', 'hel', 'jun', 'ko', 'ori',
];

/** Ordered from most to least common: the seeder draws them with a skew, like real tag usage. */
export const TAGS = [
  'fantasy', 'anime', 'romance', 'adventure', 'sci-fi', 'mystery', 'comedy', 'horror', 'historical', 'villain',
  'hero', 'magic', 'cyberpunk', 'slice-of-life', 'detective', 'pirate', 'knight', 'elf', 'robot', 'vampire',
  'dragon', 'witch', 'samurai', 'space', 'steampunk', 'noir', 'mythology', 'school', 'sports', 'music',
];

export const WORDS = [
  'a', 'wandering', 'scholar', 'who', 'keeps', 'secrets', 'of', 'the', 'old', 'city', 'and', 'never', 'tells',
  'anyone', 'where', 'she', 'came', 'from', 'brave', 'quiet', 'curious', 'storm', 'river', 'light', 'shadow',
  'ancient', 'library', 'sword', 'ship', 'star', 'garden', 'clockwork', 'letters', 'friend', 'rival', 'loyal',
  'sharp', 'witty', 'gentle', 'restless', 'dreams', 'of', 'flying', 'over', 'mountains', 'at', 'dawn', 'with',
  'tea', 'maps', 'music', 'and', 'laughter', 'in', 'every', 'room', 'he', 'they', 'remember', 'forgotten',
];
