// ECharts with only the parts the screens use (smaller bundle, no network: maps come from our own GeoJSON).
import * as echarts from 'echarts/core'
import { BarChart, EffectScatterChart, MapChart, PieChart, ScatterChart } from 'echarts/charts'
import {
  GeoComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent,
} from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([BarChart, EffectScatterChart, MapChart, PieChart, ScatterChart, GeoComponent, GridComponent,
  LegendComponent, TitleComponent, TooltipComponent, VisualMapComponent, CanvasRenderer])

const registered = new Map()
// Register the county's grids as an ECharts map; feature names are region ids so data joins by id.
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
  const info = { key, names, towns, count: features.length }
  registered.set(key, info)
  return info
}

export { echarts }
