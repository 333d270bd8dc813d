// ECharts with only the parts the screens use (smaller bundle, no network: maps come from our own GeoJSON).
import * as echarts from 'echarts/core'
import { BarChart, CustomChart, EffectScatterChart, LinesChart, MapChart, PieChart, ScatterChart } from 'echarts/charts'
import {
  GeoComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent,
} from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([BarChart, CustomChart, EffectScatterChart, LinesChart, MapChart, PieChart, ScatterChart, GeoComponent,
  GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent, CanvasRenderer])

function rings(geometry) {
  if (!geometry) return []
  if (geometry.type === 'Polygon') return geometry.coordinates
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat()
  return []
}

const registered = new Map()
// Register the county's grids as an ECharts map; feature names are region ids so data joins by id.
// Also returns the towns' boundary lines and label points and the bounding box (for tiles).
export function registerCounty(regionId, geojson) {
  const key = 'county-' + regionId
  if (registered.has(key)) return registered.get(key)
  let features = geojson.features.filter((f) => f.properties.level === 'grid' && f.geometry)
  if (!features.length) features = geojson.features.filter((f) => f.geometry)
  const names = {}
  const towns = geojson.features.filter((f) => f.properties.level === 'town' && f.geometry)
  for (const f of features) names[String(f.properties.id)] = f.properties.name
  echarts.registerMap(key, { type: 'FeatureCollection',
    features: features.map((f) => ({ ...f, properties: { ...f.properties, name: String(f.properties.id) } })) })
  const bbox = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity }
  for (const f of features) {
    for (const ring of rings(f.geometry)) {
      for (const [lon, lat] of ring) {
        bbox.west = Math.min(bbox.west, lon); bbox.east = Math.max(bbox.east, lon)
        bbox.south = Math.min(bbox.south, lat); bbox.north = Math.max(bbox.north, lat)
      }
    }
  }
  const townLines = towns.length > 1 ? towns.flatMap((t) => rings(t.geometry)) : []
  const townCentres = towns.length > 1 ? towns.map((t) => ({ name: t.properties.name, at: centre(rings(t.geometry)[0] || []) })) : []
  const info = { key, names, towns, townLines, townCentres, bbox, count: features.length }
  registered.set(key, info)
  return info
}

// The area-weighted centre of a ring (where a town's name goes).
function centre(ring) {
  let a = 0, x = 0, y = 0
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1]
    a += f; x += (ring[j][0] + ring[i][0]) * f; y += (ring[j][1] + ring[i][1]) * f
  }
  if (!a) return ring[0] || [0, 0]
  return [x / (3 * a), y / (3 * a)]
}

// Web-Mercator ("slippy map") tiles covering a bounding box at one fixed zoom: the deepest zoom at
// which the box needs at most MAX_ACROSS tiles either way. Each tile has its corners in degrees.
const MAX_ACROSS = 8
const tileX = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z)
const tileY = (lat, z) => {
  const r = (lat * Math.PI) / 180
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z)
}
const tileLon = (x, z) => (x / 2 ** z) * 360 - 180
const tileLat = (y, z) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** z))) * 180) / Math.PI

export function tilesFor(template, bbox, maxAcross = MAX_ACROSS) {
  if (!template || !isFinite(bbox.west)) return []
  let z = 18
  while (z > 1 && (tileX(bbox.east, z) - tileX(bbox.west, z) + 1 > maxAcross ||
                   tileY(bbox.south, z) - tileY(bbox.north, z) + 1 > maxAcross)) z--
  const out = []
  for (let x = tileX(bbox.west, z); x <= tileX(bbox.east, z); x++) {
    for (let y = tileY(bbox.north, z); y <= tileY(bbox.south, z); y++) {
      out.push({ x, y, z, west: tileLon(x, z), east: tileLon(x + 1, z), north: tileLat(y, z), south: tileLat(y + 1, z),
        url: template.replace('{z}', z).replace('{x}', x).replace('{y}', y) })
    }
  }
  return out
}

export { echarts }
